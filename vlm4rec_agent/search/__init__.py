"""Search in words: reading a query, fusing dense and lexical candidates, varying a page."""
