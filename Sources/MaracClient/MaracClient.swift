// MaracClient module.
