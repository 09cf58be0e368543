"""bioRxiv and medRxiv subject categories as fields: a code (`biorxiv:neuroscience`) and a readable name,
merged into the product's one field table (`assistant.core.fields`).

A server is a field like an arXiv archive (`biorxiv`, `medrxiv`) and its subjects are its categories, so
filters, briefings and the radar treat them exactly like `cs` and `cs.LG`.
"""

from __future__ import annotations

import re

from assistant.core.paper import SOURCE_LABELS, SourceName

BIORXIV_SUBJECTS = (
    "Animal Behavior and Cognition",
    "Biochemistry",
    "Bioengineering",
    "Bioinformatics",
    "Biophysics",
    "Cancer Biology",
    "Cell Biology",
    "Clinical Trials",
    "Developmental Biology",
    "Ecology",
    "Epidemiology",
    "Evolutionary Biology",
    "Genetics",
    "Genomics",
    "Immunology",
    "Microbiology",
    "Molecular Biology",
    "Neuroscience",
    "Paleontology",
    "Pathology",
    "Pharmacology and Toxicology",
    "Physiology",
    "Plant Biology",
    "Scientific Communication and Education",
    "Synthetic Biology",
    "Systems Biology",
    "Zoology",
)
MEDRXIV_SUBJECTS = (
    "Addiction Medicine",
    "Allergy and Immunology",
    "Anesthesia",
    "Cardiovascular Medicine",
    "Dentistry and Oral Medicine",
    "Dermatology",
    "Emergency Medicine",
    "Endocrinology",
    "Epidemiology",
    "Forensic Medicine",
    "Gastroenterology and Hepatology",
    "Genetic and Genomic Medicine",
    "Geriatric Medicine",
    "Health Economics",
    "Health Informatics",
    "Health Policy",
    "Health Systems and Quality Improvement",
    "Hematology",
    "HIV/AIDS",
    "Infectious Diseases",
    "Intensive Care and Critical Care Medicine",
    "Medical Education",
    "Medical Ethics",
    "Nephrology",
    "Neurology",
    "Nursing",
    "Nutrition",
    "Obstetrics and Gynecology",
    "Occupational and Environmental Health",
    "Oncology",
    "Ophthalmology",
    "Orthopedics",
    "Otolaryngology",
    "Pain Medicine",
    "Palliative Medicine",
    "Pathology",
    "Pediatrics",
    "Pharmacology and Therapeutics",
    "Primary Care Research",
    "Psychiatry and Clinical Psychology",
    "Public and Global Health",
    "Radiology and Imaging",
    "Rehabilitation Medicine and Physical Therapy",
    "Respiratory Medicine",
    "Rheumatology",
    "Sexual and Reproductive Health",
    "Sports Medicine",
    "Surgery",
    "Toxicology",
    "Transplantation",
    "Urology",
)
RXIV_SERVERS: tuple[SourceName, ...] = ("biorxiv", "medrxiv")
_SLUG_RE = re.compile(r"[^a-z0-9]+")


def rxiv_server(code: str) -> SourceName | None:
    """The server a field code belongs to ('biorxiv:neuroscience' -> 'biorxiv'); None for arXiv codes."""
    head = code.strip().split(":", 1)[0].lower()
    return next((server for server in RXIV_SERVERS if server == head), None)


def subject_slug(name: str) -> str:
    """'Animal Behavior and Cognition ' -> 'animal-behavior-and-cognition'; 'HIV/AIDS' -> 'hiv-aids'."""
    return _SLUG_RE.sub("-", name.strip().lower()).strip("-")


def subject_category(server: str, subject: str) -> str:
    """The category code of a server's subject ('biorxiv:neuroscience'); just the server when unknown."""
    slug = subject_slug(subject)
    return f"{server}:{slug}" if slug else server


def _table() -> dict[str, str]:
    names: dict[str, str] = {server: SOURCE_LABELS[server] for server in RXIV_SERVERS}
    for server, subjects in (("biorxiv", BIORXIV_SUBJECTS), ("medrxiv", MEDRXIV_SUBJECTS)):
        for subject in subjects:
            names[subject_category(server, subject)] = f"{SOURCE_LABELS[server]} {subject}"
    return names


RXIV_NAMES: dict[str, str] = _table()
"""Code -> readable name for the two servers and their subjects ('biorxiv:neuroscience' -> 'bioRxiv
Neuroscience'); merged into `assistant.core.fields.FIELD_NAMES`."""


def api_subject(category: str) -> str:
    """The API's `category` parameter for a subject code: 'biorxiv:cancer-biology' -> 'cancer_biology'."""
    return category.split(":", 1)[-1].replace("-", "_")
