"""Backbones kerascon registers, as plain data: no Keras, no TensorFlow.

The encoders build and register their architectures from these tables, and the listing of
the zoo (:mod:`kerascon.zoo.catalogue`) reads them without loading Keras.
"""
