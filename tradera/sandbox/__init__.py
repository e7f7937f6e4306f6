"""A Tradera of our own: the SOAP operations Rheo's client uses, Tradera's rules, an
accelerated clock, control endpoints and failure injection. See docs/tradera.md, "The Tradera
sandbox". Standard library only, so it runs without Django."""
