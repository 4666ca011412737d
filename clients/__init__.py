"""Python clients (sync and async) and trainer adapters."""
