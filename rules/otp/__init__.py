"""The otp rule pack."""
