"""What scripts/make_sample_data.py makes data/samples/ from: word lists and templates, and the code that fills them.

Data (YAML; each file's header says what it holds):

    <set>.yaml            one sample set, named as its folder in data/samples/: its README line
                          (``about``), split sizes, hub id field, and its words and templates
    shared.yaml           fictional people, towns, countries, companies and dates that several sets use
    movie_reviews.yaml    the words of the sst2, rotten_tomatoes and imdb reviews, by polarity
    unsup_pool.yaml       the unlabelled pool's sources, words and templates
    readme_template.md    data/samples/README.md, less the table of sets and the pool's numbers

Code:

    words.py              reads the YAML files; each ``*_slots`` function draws one text's slots
    makers.py             one maker per set (label -> texts); the loop that balances the classes
                          of every split and rejects repeated texts; the pool's loop
"""
