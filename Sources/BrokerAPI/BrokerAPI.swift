// BrokerAPI module.
