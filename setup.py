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
    # the top-level schemas/ folder (scheming YAML) is installed as the package
    # ckanext.servicespublics.schemas, so that scheming finds it by module path
    # ("ckanext.servicespublics.schemas:service_points.yaml") in any install
    package_dir={"": SRC, "ckanext.servicespublics.schemas": "schemas"},
    packages=find_namespace_packages(where=SRC, include=["ckanext.*"])
    + ["ckanext.servicespublics.schemas"],
    package_data={"ckanext.servicespublics.schemas": ["*.yaml", "*.json"]},
    include_package_data=True,
    zip_safe=False,
    install_requires=[
        "luqum>=1.0",
        "shapely>=2.0",
        "pyproj>=3.6",
        "pandas>=2.2",
        "geoalchemy2>=0.15",
        "openpyxl>=3.1",
        "markdownify>=0.13",
    ],
    entry_points={
        "ckan.plugins": [
            "servicespublics = ckanext.servicespublics.plugin:ServicesPublicsPlugin",
            "servicespublics_search = "
            "ckanext.servicespublics.search.plugin:ServicesPublicsSearchPlugin",
            "servicespublics_dataset = "
            "ckanext.servicespublics.dataset.plugin:ServicesPublicsDatasetPlugin",
            "servicespublics_points = "
            "ckanext.servicespublics.points.plugin:ServicesPublicsPointsPlugin",
            "servicespublics_access = "
            "ckanext.servicespublics.access.plugin:ServicesPublicsAccessPlugin",
            "servicespublics_dcat = "
            "ckanext.servicespublics.dcat.plugin:ServicesPublicsDcatPlugin",
            "servicespublics_issues = "
            "ckanext.servicespublics.issues.plugin:ServicesPublicsIssuesPlugin",
            "servicespublics_map = "
            "ckanext.servicespublics.mapview.plugin:ServicesPublicsMapPlugin",
            "servicespublics_analytics = "
            "ckanext.servicespublics.analytics.plugin:ServicesPublicsAnalyticsPlugin",
            "datagouv_harvester = "
            "ckanext.servicespublics.harvesters.datagouv:DataGouvHarvester",
            "opendatasoft_harvester = "
            "ckanext.servicespublics.harvesters.opendatasoft:OpenDataSoftHarvester",
        ],
        "ckan.rdf.profiles": [
            "servicespublics_dcat_ap = "
            "ckanext.servicespublics.dcat.profiles:ServicesPublicsDCATAPProfile",
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
