from __future__ import annotations

from setuptools import find_namespace_packages, setup

SRC = "ckanext-servicespublics"

setup(
    name="ckanext-servicespublics",
    version="0.1.0",
    description=(
        "CKAN 2.12 extension: publish, harvest, search, map and correct "
        "France's public-service points"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="AGPL-3.0-or-later",
    python_requires=">=3.10",
    package_dir={"": SRC},
    packages=find_namespace_packages(where=SRC, include=["ckanext.*"]),
    include_package_data=True,
    zip_safe=False,
    install_requires=[
        "luqum>=1.0",
        "shapely>=2.0",
        "pyproj>=3.6",
        "pandas>=2.2",
        "geoalchemy2>=0.15",
    ],
    entry_points={
        "ckan.plugins": [
            "servicespublics = ckanext.servicespublics.plugin:ServicesPublicsPlugin",
            "servicespublics_search = "
            "ckanext.servicespublics.search.plugin:ServicesPublicsSearchPlugin",
        ],
        "babel.extractors": [
            "ckan = ckan.lib.extract:extract_ckan",
        ],
    },
    message_extractors={
        SRC: [
            ("**.py", "python", None),
            ("**.js", "javascript", None),
            ("**/templates/**.html", "ckan", None),
        ],
    },
)
