from nlu.entities import extract_entities
from nlu.schemas import Entity


def test_expression_survives_the_response_model():
    found = extract_entities("vad blir 150 delat med 6")
    entity = Entity(**found[0])
    assert entity.type == "expression" and entity.value == 25
    assert entity.expression == "150/6"
    assert entity.model_dump()["expression"] == "150/6"
