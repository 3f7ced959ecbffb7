"""Registration: read a model or adapter directory, store it, write its manifest."""
