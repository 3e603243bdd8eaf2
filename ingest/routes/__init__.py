"""HTTP routes: thin layers over the domain modules."""
