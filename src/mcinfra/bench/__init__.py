"""Throughput measurements (``mcinfra bench``) and the plain numpy model they compare against.

Dependency contract: may import any layer of the package except the command line.
"""
