"""Spiking neurons: stateful modules that charge, fire and reset."""
