"""``python -m nips2015_vrnn.models.app.cli <command> ...``."""
from nips2015_vrnn.models.app.cli import main

main()
