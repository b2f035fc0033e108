"""The listening session, without Qt: opening a model, the vocabulary (base model plus custom
words), the one listening loop and the recording taps that share its capture."""
