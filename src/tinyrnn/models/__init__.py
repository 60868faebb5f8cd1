"""Models: compositions of the layers (BinaryAdder, CharLM, Seq2Seq)."""

from .adder import BinaryAdder
from .charlm import CharLM
from .seq2seq import Seq2Seq

__all__ = ["BinaryAdder", "CharLM", "Seq2Seq"]
