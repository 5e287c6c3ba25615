"""The lecture model's vocabulary: named semantic axes, hand-assigned word memberships, ambiguous words.

Read a line of WORDS as "these words belong to this axis". A word on several lines belongs to each;
`word:0.5` is a half membership. Ambiguous words are not in WORDS: they sit exactly between the two
senses named in AMBIGUOUS. Function words carry almost no meaning, so they get tiny vectors.
"""

import numpy as np

AXES = (
    "food",
    "technology",
    "animal",
    "finance",
    "nature",
    "sport",
    "people",
    "emotion",
    "time",
    "place",
    "music",
    "weather",
    "vehicle",
    "building",
    "body",
    "school",
)

# The embedding space: d_model = 16 semantic axes + 8 positional dims = 24, which splits evenly into
# 1, 2, 3, 4, 6 or 8 heads (d_head = 24, 12, 8, 6, 4, 3), so most head counts a lecture wants work.
N_POS = 8
D_MODEL = len(AXES) + N_POS
# Sinusoidal positions (Vaswani et al. 2017, sec. 3.5) with 4 hand-picked frequencies: a linear map can
# rotate position i onto i - 1 (the previous-token head); every prefix of them separates nearby positions.
FREQUENCIES = (2.9, 2.22, 0.95, 0.028)
POS_SCALE = 0.5  # small next to a content word's length (3), so position nudges attention but topic leads

# axis | members (the first few of each line are its most typical words: the PCA background labels)
WORDS = """
food       | banana bread cheese pizza fruit soup rice pasta salad sandwich butter milk egg meat cake grape
             cherry lemon strawberry pear peach mango potato tomato carrot onion cookie chocolate sugar honey
             breakfast lunch dinner meal eat ate eaten cook sweet ripe delicious tasty juice coffee tea bake
             recipe snack dessert vegetable flour orange chicken drink drank kitchen:0.5 restaurant hungry:0.7
             plate:0.5
technology | computer laptop phone software internet smartphone app website keyboard screen code program
             programmer programming data algorithm robot digital online email network server chip processor
             device tablet camera electronic engineer download upload update release startup google microsoft
             iphone android wifi gadget television click user password hacker virtual pixel printer machine:0.5
             battery:0.5 radio:0.5 playlist:0.5 headphones:0.5 rocket:0.5 tesla:0.5 engine:0.5 wire:0.5
             button file plug factory:0.3 virus:0.3 company:0.3 launch:0.5
animal     | dog cat horse lion cow pig sheep goat tiger bear wolf fox rabbit deer elephant monkey zebra giraffe
             snake bird eagle owl duck shark whale dolphin frog insect bee ant spider butterfly puppy kitten pet
             zoo wild fur tail feather nest beak parrot squirrel animal chicken:0.5 hunt:0.5 fisherman:0.3
             paw biology:0.3 fish:0.7 fly:0.5 flew:0.5 chase:0.5
finance    | money cash coin dollar price loan debt credit deposit tax euro cost pay paid buy bought sell sold
             interest salary income profit budget invest investment investor stock market account wallet rich
             expensive cheap spend spent wealth fund savings mortgage bill banker business company economy
             ticket:0.5 shop:0.5 office:0.3 factory:0.3 startup:0.5 release:0.3 launch:0.3
nature     | river water lake tree forest sea ocean flower grass stream leaf leaves mountain hill valley rock stone
             sand island shore coast mud shallow desert jungle plant seed soil earth waterfall pond bush branch
             root bloom moss cliff cave nature beach:0.7 park:0.7 garden:0.7 wave:0.7 wood:0.7 sun:0.5 sky:0.5
             swim:0.5 wild:0.5 nest:0.5 boat:0.3 fisherman:0.5 fish:0.5 ice:0.3 flood:0.5 biology:0.3
sport      | football soccer tennis basketball ball team goal golf hockey rugby baseball cricket game score win
             won lose race runner athlete stadium championship tournament olympic medal referee swim swimming
             ski marathon goalkeeper racket league kick training coach player umpire wicket match hit:0.5
             throw:0.5
             gym:0.7 dance:0.3 hunt:0.3
people     | king queen prince princess man woman boy girl child children baby mother father brother sister
             family friend people person husband wife son daughter uncle aunt neighbour neighbor crowd citizen
             president leader guest stranger parent grandmother grandfather kid human emperor knight royal
             palace:0.5 castle:0.5 crown coach:0.5 player:0.5 teacher:0.7 doctor:0.7 nurse:0.7 singer:0.5
             musician:0.5 engineer:0.5 programmer:0.5 banker:0.5 professor:0.5 driver:0.5 passenger:0.5
             patient:0.5 worker:0.7 fisherman student:0.5 pet:0.3 band:0.3
emotion    | happy sad angry love hate fear joy smile laugh cry afraid excited nervous calm lonely proud worried
             anxious glad upset bored scared surprise hope sorry grief anger delight cheerful mood feeling enjoy
             fun hug kiss emotion tired:0.5 heart:0.7 tears:0.7 birthday:0.3 feel:0.5
time       | day morning night year week month hour minute evening afternoon today tomorrow yesterday century
             decade clock calendar early late soon future moment dawn noon midnight ancient age weekend holiday
             monday tuesday wednesday thursday friday saturday sunday january april july october time
             winter summer autumn season history:0.5 birthday:0.7
place      | city town village street country home world map capital downtown avenue corner north south east
             west london paris europe america china india africa hotel mall airport:0.5 station:0.5 road:0.7
             shop:0.7 store office:0.7 market:0.5 park:0.5 beach:0.3 bridge:0.5 restaurant:0.5 traffic:0.5
             wide:0.5 palace:0.5 travel:0.5 stadium:0.5 zoo:0.5 concert:0.3 house:0.5 island:0.3
music      | song guitar piano drum violin singer band concert melody rhythm chord album jazz orchestra choir
             lyrics tune opera musician composer trumpet flute harmony beat microphone music cello sing sang
             sung
             radio:0.5 playlist headphones dance:0.7 loud:0.5
weather    | rain snow wind storm cloud sunny fog thunder lightning hot warm freezing frost forecast umbrella
             rainbow hurricane tornado drought humid breeze wet dry climate heat weather snowy windy rainy
             chilly cloudy sun sky ice flood temperature freeze froze frozen wave:0.3 winter:0.7 summer:0.7 autumn:0.7 season:0.5
vehicle    | car bus train truck bicycle bike motorcycle plane airplane boat ship taxi engine wheel driver
             drive drove driven highway tram subway fuel petrol garage tyre tire helicopter rocket ferry passenger railway
             brake journey toyota bmw ferrari porsche tesla vehicle speed:0.5 parking:0.7 road:0.5 traffic
             airport station ticket:0.5 travel:0.5 street:0.3
building   | house wall roof door window floor brick steel concrete tower bridge construction build built
             architect hammer tool beam factory metal iron wire pipe room apartment castle church stairs
             ladder glass timber screw drill shelf furniture chair table kitchen bed:0.7 garage:0.5 palace:0.5
             hospital:0.5 library:0.3 wood:0.3 wide:0.5 lift:0.7 machine:0.5 worker:0.5 home:0.5 desk:0.5
body       | hand arm leg foot feet eye ear nose mouth tooth teeth skin blood bone brain muscle stomach fever
             flu cough sneeze ill illness sick pain hospital medicine health healthy sleep breath throat
             headache virus wound injury doctor nurse patient tired body heart bed:0.3 tears:0.3 hungry:0.3 gym:0.3
             tail:0.3 temperature:0.3
school     | school teacher student classroom lesson homework exam book learn study university college professor
             library pencil pen paper math science physics chemistry biology language grammar essay lecture
             knowledge teach taught notebook desk dictionary alphabet semester degree history training:0.3
             read:0.5 write:0.5 wrote:0.5 written:0.5
"""

# Small words that carry grammar, not topic: tiny vectors, so they neither dominate nor get attended much.
FUNCTION_WORDS = """
the a an and or but of to in on at by for with from into onto about as is are was were be been being am
do does did done doing have has had having i me my mine you your yours he him his she her hers it its we us
our they them their this that these those there here what which who whom whose when where why how not no
yes so too very just also only even still then than if because while though although until before after
since all any some each every both either neither more most much many few less other another such own same
new old good bad big small large little long short high low first last next great right left can could will
would shall should may might must let don't didn't doesn't isn't aren't wasn't weren't won't can't couldn't
wouldn't shouldn't i'm you're he's she's it's we're they're i've i'll i'd that's there's what's let's go
went gone come came get got make made take took see saw seen look say said tell told know knew think
thought want give gave put keep kept find found sit sat stand stood walk move cross turn bring brought
begin began show try leave call ask seem become became hold held up down out over under again away back
along past toward towards across around through near far behind above below between without within slowly
quickly really well almost always never often sometimes already yet ever once something nothing anything
everything someone everyone one two three four five six seven eight nine ten hundred thousand million
watch run way thing things lot kind part place use used using work need needs needed like just got busy
still quiet full empty fast slow together alone huge tiny ran catch caught stay play reach perfect thick
faster brown red blue green yellow black white open close live lives fresh top
"""

# The senses that AMBIGUOUS words can take: sense name -> {axis: weight}.
SENSES = {
    "fruit": {"food": 1.0},
    "technology": {"technology": 1.0},
    "river": {"nature": 1.0},
    "money": {"finance": 1.0},
    "animal": {"animal": 1.0},
    "sport": {"sport": 1.0},
    "season": {"time": 1.0, "weather": 1.0},
    "water": {"nature": 1.0},
    "construction": {"building": 1.0},
    "car": {"vehicle": 1.0},
    "music": {"music": 1.0},
    "tree": {"nature": 1.0},
    "weather": {"weather": 1.0},
    "illness": {"body": 1.0},
}

# word -> (sense a, sense b): the vector sits exactly between the two senses, so context decides.
AMBIGUOUS = {
    "apple": ("fruit", "technology"),
    "bank": ("river", "money"),
    "bat": ("animal", "sport"),
    "mouse": ("animal", "technology"),
    "python": ("animal", "technology"),
    "spring": ("season", "water"),
    "crane": ("animal", "construction"),
    "jaguar": ("animal", "car"),
    "bass": ("animal", "music"),
    "pitch": ("sport", "music"),
    "bark": ("tree", "animal"),
    "cold": ("weather", "illness"),
}


def memberships():  # -> dict word -> {axis: weight}
    """Parse WORDS: every content word with its hand-assigned axis weights."""
    table = {}
    axis = None
    for line in WORDS.strip().splitlines():
        if "|" in line:
            axis, line = (part.strip() for part in line.split("|", 1))
            if axis not in AXES:
                raise ValueError(f"vocab: unknown axis {axis!r} in WORDS; add it to AXES")
        for item in line.split():
            word, _, weight = item.partition(":")
            table.setdefault(word, {})[axis] = float(weight or 1.0)
    return table


def function_words():  # -> set[str]
    """The grammar words (and topic-free common verbs and adjectives) of FUNCTION_WORDS."""
    return set(FUNCTION_WORDS.split())


def positional_encoding(n_seq):  # int -> [n_seq, N_POS] float32
    """PE(i) = POS_SCALE · [sin(i·w_0), cos(i·w_0), sin(i·w_1), cos(i·w_1), ...]."""
    angles = np.arange(n_seq, dtype=np.float64)[:, None] * np.asarray(FREQUENCIES)[None, :]
    pe = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n_seq, N_POS)
    return (POS_SCALE * pe).astype(np.float32)
