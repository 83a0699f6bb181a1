"""Small helpers kerascon's modules share (files, names, folders, images); not public API."""
