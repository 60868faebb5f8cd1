"""Looking inside trained models: the self-contained HTML page of a character model's cells
(``analyse`` runs the model and ranks its cells, ``page.render`` writes the page). Nothing
here prints."""

from .analyse import Analysis, analyse
from .features import FEATURES, text_features
from .page import render

__all__ = ["Analysis", "analyse", "FEATURES", "text_features", "render"]
