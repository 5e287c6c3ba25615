"""Preset sentences, each chosen to make one teaching point in under a minute (see TEACHING.md)."""

# name -> sentence; the dashboard's sidebar lists them in this order.
EXAMPLES = {
    "apple, the fruit": "she ate a sweet apple and a ripe banana",
    "apple, the company": "apple released a new phone and a laptop",
    "bank of a river": "we sat on the bank of the river and watched the water",
    "bank for money": "i deposited money at the bank to pay the loan",
    "it = the animal (too tired)": "the animal didn't cross the street because it was too tired",
    "it = the street (too wide)": "the animal didn't cross the street because it was too wide",
    "repeated words": "the cat saw the dog and the dog saw the cat",
    "long sentence (n² cost)": (
        "on a cold winter morning the old fisherman walked along the river bank with his dog , "
        "watching the water move slowly past the trees while a crane stood still in the shallow mud "
        "and the first train of the day crossed the bridge toward the busy city"
    ),
}

# Pairs for the compare page: the same word in two contexts.
PAIRS = {
    "apple: fruit vs company": ("apple, the fruit", "apple, the company"),
    "bank: river vs money": ("bank of a river", "bank for money"),
    "it: tired vs wide": ("it = the animal (too tired)", "it = the street (too wide)"),
}

DEFAULT_EXAMPLE = "apple, the fruit"
