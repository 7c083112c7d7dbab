// Journal module.
