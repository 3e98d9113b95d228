"""Read side: hybrid code search over the index."""
