"""Character-level GRU text generator (``char-rnn``)."""
