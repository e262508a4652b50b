"""Botwatch stack control: the preflight behind `make up` and the other stack targets.

Standard library only, so `make up` needs nothing but Python 3.11 and Docker.
"""
