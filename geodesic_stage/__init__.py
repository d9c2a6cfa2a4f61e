"""geodesic-stage: one shell per stage, one MFA code per day."""

__version__ = "0.1.0"
