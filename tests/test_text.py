from neuralab.text import text_table


def test_columns_are_padded_to_their_widest_cell_and_lines_stripped():
    lines = text_table(("name", "n", "note"), [("a", 10, ""), ("long name", 2, "x y")],
                       rule=True)
    assert lines == ["name       n   note",
                     "---------  --  ----",
                     "a          10",
                     "long name  2   x y"]
    assert text_table(("a", "b"), []) == ["a  b"]
