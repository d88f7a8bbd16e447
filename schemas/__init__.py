"""ckanext-scheming schemas, installed as ``ckanext.servicespublics.schemas``."""
