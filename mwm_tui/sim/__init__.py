"""mwm-sim: a fleet of simulated device apps speaking the book's STOMP and MQTT protocols."""
