"""A lexicon of demographic-group terms, built from the group vocabularies of the evaluation sets.

Where the groups and terms come from (each source's own group names, checked against the files by
``tests/corpus/test_annotate.py::test_lexicon_covers_every_source_group``):

* ToxiGen: the 16 target groups of ``toxigen/prompts/{hate,neutral}_<group>_1k.txt``;
* BOLD: the group names of ``bold/prompts/*.json`` (gender, race, religious and political ideology;
  its 18 profession groups are occupations, not demographic groups, and are left out);
* StereoSet: the item targets of the dev set and ``stereoset/test_terms.txt`` (pronouns and words
  that are usually not about a group, e.g. "model", "judge", "turkey", are left out: see EXCLUDED);
* CrowS-Pairs: its 9 bias types name dimensions, not terms; the identity words of the age,
  socioeconomic, physical-appearance and sexual-orientation groups are a small hand list written for
  this study (source: "hand, after the CrowS-Pairs bias types").

Surface forms (plurals, "folks", adjective/noun pairs) are written out here rather than derived, so
matching stays a plain whole-word, case-insensitive lookup. Issue 5 swaps terms between groups of
the same dimension for counterfactual checks: :func:`group_dimension` gives each group's dimension.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Dimensions follow CrowS-Pairs' bias types, plus StereoSet's profession and BOLD's political ideology.
DEMOGRAPHIC_DIMENSIONS = (
    "race-color", "nationality", "gender", "religion", "sexual-orientation", "disability", "age",
    "socioeconomic", "physical-appearance",
)  # fmt: skip
OTHER_DIMENSIONS = ("political", "profession")  # groups, but not demographic ones: not counted as harm

# group -> (dimension, surface terms, where the group comes from)
_GROUPS: dict[str, tuple[str, tuple[str, ...], str]] = {
    # --- ToxiGen target groups (prompt file names); BOLD race/gender/religion groups merged in ---------
    "asian": ("race-color", ("asian", "asians", "asian american", "asian americans", "asian folks"), "toxigen, bold"),
    "black": ("race-color", ("black people", "black folks", "blacks", "african american", "african americans",
                             "black man", "black men", "black woman", "black women"), "toxigen, bold, stereoset"),
    "white": ("race-color", ("white people", "white folks", "whites", "european american", "european americans",
                             "white man", "white men", "white woman", "white women", "caucasian", "caucasians"),
              "bold, stereoset"),
    "latino": ("race-color", ("latino", "latinos", "latina", "latinas", "latinx", "hispanic", "hispanics",
                              "hispanic american", "hispanic americans", "latino americans"), "toxigen, bold, stereoset"),
    "native_american": ("race-color", ("native american", "native americans", "indigenous", "american indian",
                                       "american indians"), "toxigen, stereoset"),
    "middle_east": ("race-color", ("middle eastern", "middle easterner", "middle easterners", "arab", "arabs",
                                   "arabic", "persian", "persians", "persian people"), "toxigen, stereoset"),
    "chinese": ("nationality", ("chinese", "china"), "toxigen, stereoset"),
    "mexican": ("nationality", ("mexican", "mexicans", "mexico"), "toxigen, stereoset"),
    "immigrant": ("nationality", ("immigrant", "immigrants", "migrant", "migrants", "refugee", "refugees",
                                  "illegal alien", "illegal aliens", "foreigner", "foreigners"), "toxigen"),
    "jewish": ("religion", ("jew", "jews", "jewish", "judaism"), "toxigen, bold"),
    "muslim": ("religion", ("muslim", "muslims", "islam", "islamic", "quran", "sharia", "jihad", "mohammed"),
               "toxigen, bold, stereoset"),
    "christian": ("religion", ("christian", "christians", "christianity", "bible", "church", "trinity"),
                  "bold, stereoset"),
    "hindu": ("religion", ("hindu", "hindus", "hinduism", "brahmin", "brahmins"), "bold, stereoset"),
    "buddhist": ("religion", ("buddhist", "buddhists", "buddhism"), "bold"),
    "sikh": ("religion", ("sikh", "sikhs", "sikhism"), "bold"),
    "atheist": ("religion", ("atheist", "atheists", "atheism"), "bold"),
    "lgbtq": ("sexual-orientation", ("lgbt", "lgbtq", "lgbtq+", "gay", "gays", "lesbian", "lesbians", "queer",
                                     "homosexual", "homosexuals"), "toxigen, crows-pairs (hand)"),
    "bisexual": ("sexual-orientation", ("bisexual", "bisexuals"), "toxigen"),
    "heterosexual": ("sexual-orientation", ("heterosexual", "heterosexuals", "straight people"), "crows-pairs (hand)"),
    "trans": ("gender", ("trans", "transgender", "transgenders", "transsexual", "transsexuals", "nonbinary",
                         "non-binary"), "toxigen"),
    "women": ("gender", ("woman", "women", "female", "females", "girl", "girls", "lady", "ladies", "mother",
                         "mothers", "mommy", "wife", "wives", "sister", "sisters", "daughter", "daughters",
                         "grandmother", "stepmother", "bride", "girlfriend", "schoolgirl", "actress", "actresses",
                         "ma'am"), "toxigen, bold, stereoset"),
    "men": ("gender", ("man", "men", "male", "males", "boy", "boys", "gentleman", "gentlemen", "father", "fathers",
                       "daddy", "husband", "husbands", "brother", "brothers", "son", "sons", "grandfather",
                       "stepfather", "groom", "boyfriend", "schoolboy", "sir", "actor", "actors"),
            "bold, stereoset"),
    "mental_disability": ("disability", ("mentally ill", "mental illness", "mental disability", "mental disabilities",
                                         "autistic", "autism", "schizophrenic", "retarded", "down syndrome"),
                          "toxigen"),
    "physical_disability": ("disability", ("disabled", "disability", "disabilities", "wheelchair", "handicapped",
                                           "blind", "deaf", "amputee", "paralyzed"), "toxigen"),
    # --- CrowS-Pairs bias types without a ToxiGen/BOLD group: a small hand list -------------------------
    "old": ("age", ("old people", "elderly", "senior citizen", "senior citizens", "pensioner", "pensioners",
                    "old man", "old woman", "grandpa", "grandma", "boomer", "boomers"), "crows-pairs (hand), stereoset"),
    "young": ("age", ("young people", "teenager", "teenagers", "teens", "millennial", "millennials", "kids",
                      "youngsters"), "crows-pairs (hand)"),
    "poor": ("socioeconomic", ("poor", "poor people", "homeless", "low-income", "welfare", "ghetto", "trailer park"),
             "crows-pairs (hand)"),
    "rich": ("socioeconomic", ("rich", "rich people", "wealthy", "millionaire", "millionaires", "billionaire",
                               "billionaires"), "crows-pairs (hand)"),
    "fat": ("physical-appearance", ("fat", "obese", "overweight"), "crows-pairs (hand)"),
    "ugly": ("physical-appearance", ("ugly", "unattractive"), "crows-pairs (hand)"),
    # --- BOLD political ideologies --------------------------------------------------------------------
    "left-wing": ("political", ("left-wing", "leftist", "leftists", "left wing"), "bold"),
    "right-wing": ("political", ("right-wing", "right-winger", "right-wingers", "right wing"), "bold"),
    "communism": ("political", ("communism", "communist", "communists"), "bold"),
    "socialism": ("political", ("socialism", "socialist", "socialists"), "bold"),
    "democracy": ("political", ("democrat", "democrats", "democratic party"), "bold"),
    "liberalism": ("political", ("liberalism", "liberal", "liberals"), "bold"),
    "populism": ("political", ("populism", "populist", "populists"), "bold"),
    "conservatism": ("political", ("conservatism", "conservative", "conservatives", "republican", "republicans"),
                     "bold"),
    "nationalism": ("political", ("nationalism", "nationalist", "nationalists"), "bold"),
    "anarchism": ("political", ("anarchism", "anarchist", "anarchists"), "bold"),
    "capitalism": ("political", ("capitalism", "capitalist", "capitalists"), "bold"),
    "fascism": ("political", ("fascism", "fascist", "fascists", "nazi", "nazis"), "bold"),
}

# StereoSet nationality targets and test terms: country and demonym share one group.
_NATIONALITIES: dict[str, tuple[str, ...]] = {
    "afghan": ("afghanistan", "afghan", "afghans"), "african": ("africa", "african", "africans"),
    "albanian": ("albania", "albanian"), "argentinian": ("argentina", "argentian", "argentinian"),
    "australian": ("australia", "australian", "australians"), "austrian": ("austria", "austrian"),
    "bangladeshi": ("bangladesh", "bengali", "bangladeshi"), "bolivian": ("bolivia", "bolivian"),
    "brazilian": ("brazil", "brazilian", "brazilians"), "british": ("britain", "british", "scotland", "scottish",
                                                                     "ireland", "irish"),
    "cameroonian": ("cameroon", "cameroonian"), "cape_verdean": ("cape verde", "cape verdean"),
    "chilean": ("chilean",), "colombian": ("columbian", "colombian", "colombia"),
    "crimean": ("crimea", "crimean"), "dutch": ("netherlands", "dutch", "dutch people"),
    "ecuadorian": ("ecuador", "ecuadorian"), "egyptian": ("egypt", "egyptian", "egyptians"),
    "eritrean": ("eriteria", "eritrea", "eritrean"), "ethiopian": ("ethiopia", "ethiopian", "ethiopians"),
    "european": ("europe", "european", "europeans"), "finnish": ("finland", "finnish"),
    "french": ("france", "french"), "german": ("germany", "german", "germans"), "ghanaian": ("ghana", "ghanaian"),
    "greek": ("greece", "greek", "greeks"), "guatemalan": ("guatemala", "guatemalan"),
    "indian": ("india", "indian", "indians"), "indonesian": ("indonesia", "indonesian"),
    "iranian": ("iran", "iranian", "iranians"), "iraqi": ("iraq", "iraqi", "iraqis"), "italian": ("italy", "italian",
                                                                                                   "italians"),
    "japanese": ("japan", "japanese"), "jordanian": ("jordanian",), "kenyan": ("kenya", "kenyan"),
    "korean": ("korea", "korean", "koreans"), "laotian": ("laos", "laotian"), "lebanese": ("lebanon", "lebanese"),
    "liberian": ("liberia", "liberian"), "moroccan": ("morocco", "moroccan"), "nepali": ("nepal", "nepali"),
    "nigerian": ("nigeria", "nigerian", "nigerians"), "norwegian": ("norway", "norweigan", "norwegian"),
    "omani": ("oman", "omani"), "pakistani": ("pakistan", "pakistani", "pakistanis"),
    "paraguayan": ("paraguay", "paraguayan"), "peruvian": ("peru", "peruvian"), "polish": ("poland", "polish"),
    "portuguese": ("portugal", "portuguese"), "puerto_rican": ("puerto rico", "puerto rican", "puerto ricans"),
    "qatari": ("qatar", "qatari"), "romanian": ("romania", "romanian"), "russian": ("russia", "russian", "russians"),
    "saudi": ("saudi arabia", "saudi arabian", "saudi"), "sierra_leonean": ("sierra leon", "sierra leone",
                                                                             "sierra leonean"),
    "singaporean": ("singapore", "singaporean"), "somali": ("somalia", "somali", "somalis"),
    "south_african": ("south africa", "south african"), "spanish": ("spain", "spanish"),
    "sudanese": ("sudan", "sudanese"), "swedish": ("sweden", "swedish"), "syrian": ("syria", "syrian", "syrians"),
    "taiwanese": ("taiwan", "taiwanese"), "turkish": ("turkish",), "ukrainian": ("ukraine", "ukrainian"),
    "venezuelan": ("venezuela", "venezuelan"), "vietnamese": ("vietnam", "vietnamese"),
    "yemeni": ("yemen", "yemeni"), "american": ("american", "americans"),
}  # fmt: skip

# StereoSet profession targets and test terms (dimension "profession", not demographic).
_PROFESSIONS = (
    "accountant", "analyst", "architect", "artist", "athlete", "attorney", "attourney", "auditor", "baker",
    "banker", "barber", "bartender", "boxer", "broker", "businessperson", "butcher", "carpenter", "cashier", "ceo",
    "chef", "chemist", "chess player", "civil servant", "cleaner", "clerk", "comedian", "composer", "construction worker",
    "counselor", "dancer", "delivery man", "dentist", "detective", "diplomat", "doctor", "economist", "electrician",
    "engineer", "entrepreneur", "farmer", "firefighter", "football player", "guitarist", "hairdresser",
    "handball player", "handyman", "historian", "housekeeper", "illustrator", "janitor", "journalist", "laborer",
    "lawyer", "librarian", "linguist", "maid", "mathematician", "mechanic", "midwife", "musician", "nurse",
    "opera singer", "painter", "performing artist", "pharmacist", "photographer", "physician", "physicist",
    "pianist", "pilot", "plumber", "poet", "policeman", "politician", "priest", "prisoner", "professor",
    "prosecutor", "psychologist", "real-estate developer", "realtor", "receptionist", "researcher", "salesperson",
    "scientist", "secretary", "sheriff", "singer", "sociologist", "software developer", "soldier", "supervisor",
    "swimmer", "tailor", "teacher", "tennis player", "theologian", "umpire", "waiter", "writer",
)

# Source terms deliberately not matched, with the reason (kept so the coverage test can tell "left out
# on purpose" from "forgotten").
EXCLUDED: dict[str, str] = {
    **{p: "pronoun: would flag almost every sentence" for p in ("she", "he", "her", "him", "his", "hers",
                                                               "herself", "himself")},
    **{w: "usually not about a group of people" for w in (
        "model", "judge", "cook", "guard", "chief", "army", "director", "drawer", "author", "editor", "designer",
        "attendant", "academic", "producer", "assistant", "manager", "mover", "commander", "coach", "jordan",
        "turkey", "chile", "columbia")},
    **{g: "BOLD profession group: an occupation category, not a demographic group" for g in (
        "metalworking_occupations", "sewing_occupations", "healthcare_occupations", "computer_occupations",
        "film_and_television_occupations", "artistic_occupations", "scientific_occupations",
        "entertainer_occupations", "dance_occupations", "nursing_specialties", "writing_occupations",
        "professional_driver_types", "engineering_branches", "mental_health_occupations", "theatre_personnel",
        "corporate_titles", "industrial_occupations", "railway_industry_occupations")},
}  # fmt: skip


def _plural(term: str) -> str:
    if term.endswith(("man",)) and not term.endswith("human"):
        return term[:-3] + "men"
    if term.endswith(("s", "sh", "ch", "x")):
        return term + "es"
    if term.endswith("y") and term[-2:-1] not in "aeiou":
        return term[:-1] + "ies"
    return term + "s"


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, tuple[str, ...]]]:
    """group -> (dimension, terms), all terms lower case, every term in exactly one group."""
    table: dict[str, tuple[str, tuple[str, ...]]] = {g: (d, terms) for g, (d, terms, _) in _GROUPS.items()}
    for group, terms in _NATIONALITIES.items():
        table[group] = ("nationality", terms)
    for job in _PROFESSIONS:
        table[job] = ("profession", (job, _plural(job)))
    seen: dict[str, str] = {}
    for group, (_, terms) in table.items():
        for term in terms:
            if term in seen and seen[term] != group:
                raise ValueError(f"lexicon term {term!r} is in both {seen[term]!r} and {group!r}")
            seen[term] = group
    return table


def group_terms() -> dict[str, list[str]]:
    """Every group and its surface terms (lower case; matched whole-word, case-insensitively)."""
    return {group: list(terms) for group, (_, terms) in _table().items()}


def group_dimension() -> dict[str, str]:
    """Every group's bias dimension (CrowS-Pairs bias types, plus 'political' and 'profession')."""
    return {group: dimension for group, (dimension, _) in _table().items()}


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern[str], dict[str, str]]:
    term_to_group = {term: group for group, (_, terms) in _table().items() for term in terms}
    # Longest first, so "african americans" wins over "african"; lookarounds instead of \b because
    # some terms end in a non-word character ("lgbtq+", "ma'am").
    alternatives = sorted(term_to_group, key=len, reverse=True)
    body = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in alternatives)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE), term_to_group


def groups_mentioned(text: str) -> list[str]:
    """The groups whose terms occur in ``text`` (whole words, case-insensitive), sorted, no repeats."""
    pattern, term_to_group = _matcher()
    found = {term_to_group[" ".join(m.group(0).lower().split())] for m in pattern.finditer(text)}
    return sorted(found)


def is_demographic(group: str) -> bool:
    """Whether a group counts for harm (demographic), i.e. is not a political or profession group."""
    return group_dimension()[group] in DEMOGRAPHIC_DIMENSIONS
