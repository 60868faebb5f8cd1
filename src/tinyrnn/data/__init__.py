"""Data: binary addition pairs, text corpora and vocabularies, seq2seq pairs."""
