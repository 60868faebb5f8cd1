"""Models: compositions of the layers (BinaryAdder, CharLM, Seq2Seq)."""

from .adder import BinaryAdder

__all__ = ["BinaryAdder"]
