// The built-in language pairs. Each sentence is built twice from one structure: the source words
// in source order, then the target words in target order, each target word pointing back at the
// source word it translates, which gives the gold alignment for free.
//
//   local  (English -> a French-like language): adjectives follow their noun; "does not V" becomes
//          "ne V' pas" ("does" vanishes, "not" becomes two words around the verb); some adverbs
//          and prepositions become two words.  "the big dog does not see a cat today"
//          -> "le chien grand ne voit pas un chat aujourd hui"
//   long   (English -> a Japanese-like language, SOV): the verb moves to the end of its clause
//          past the object and any prepositional phrase, adverbs move from the end to the front,
//          prepositions become postpositions, articles vanish, nouns take a case particle and
//          verbs an ending (one word -> two).  "the big dog sees a cat near the house today"
//          -> "kyou ookii inu ga ie no soba neko o mi masu"
#include "tasks.hpp"

#include <map>
#include <stdexcept>

namespace translator {

using tg::Generator;
using tg::text::Sentence;

namespace {

struct Lexeme {
    const char* src;
    std::vector<const char*> local, far;  // translations in the two target languages
    const char* base = nullptr;           // verbs: the form after "does not"
};

// Determiners: "the"/"a" have no counterpart in the far language.
const std::vector<Lexeme> kDet = {
    {"the", {"le"}, {}}, {"a", {"un"}, {}}, {"this", {"ce"}, {"kono"}}, {"every", {"chaque"}, {"dono"}}};
const std::vector<Lexeme> kAdj = {
    {"big", {"grand"}, {"ookii"}},   {"small", {"petit"}, {"chiisai"}}, {"red", {"rouge"}, {"akai"}},
    {"old", {"vieux"}, {"furui"}},   {"young", {"jeune"}, {"wakai"}},   {"happy", {"heureux"}, {"ureshii"}},
    {"green", {"vert"}, {"midori", "no"}}, {"quiet", {"calme"}, {"shizuka", "na"}}};
const std::vector<Lexeme> kNoun = {
    {"cat", {"chat"}, {"neko"}},       {"dog", {"chien"}, {"inu"}},       {"bird", {"oiseau"}, {"tori"}},
    {"man", {"homme"}, {"otoko"}},     {"woman", {"femme"}, {"onna"}},    {"child", {"enfant"}, {"kodomo"}},
    {"house", {"maison"}, {"ie"}},     {"tree", {"arbre"}, {"ki"}},       {"car", {"voiture"}, {"kuruma"}},
    {"book", {"livre"}, {"hon"}},      {"river", {"riviere"}, {"kawa"}},  {"garden", {"jardin"}, {"niwa"}}};
// Verbs: the far language adds an ending ("masu", or "masen" when negated).
const std::vector<Lexeme> kVerb = {
    {"sees", {"voit"}, {"mi"}, "see"},          {"likes", {"aime"}, {"suki"}, "like"},
    {"finds", {"trouve"}, {"mitsuke"}, "find"}, {"takes", {"prend"}, {"tor"}, "take"},
    {"wants", {"veut"}, {"hoshi"}, "want"},     {"watches", {"regarde"}, {"nagame"}, "watch"},
    {"follows", {"suit"}, {"oi"}, "follow"},    {"paints", {"peint"}, {"kaki"}, "paint"}};
const std::vector<Lexeme> kAdv = {
    {"today", {"aujourd", "hui"}, {"kyou"}}, {"often", {"tres", "souvent"}, {"yoku"}},
    {"slowly", {"lentement"}, {"yukkuri"}},  {"again", {"de", "nouveau"}, {"mata"}}};
const std::vector<Lexeme> kPrep = {
    {"near", {"pres", "de"}, {"no", "soba"}}, {"with", {"avec"}, {"to"}},
    {"under", {"sous"}, {"no", "shita"}},     {"behind", {"derriere"}, {"no", "ushiro"}}};
const std::vector<Lexeme> kConj = {{"and", {"et"}, {"soshite"}}, {"but", {"mais"}, {"demo"}}};

// Builds a pair: source words get indices as they are added; target words name their source.
struct Builder {
    Example ex;
    int src(const char* w) {
        ex.pair.source.emplace_back(w);
        return static_cast<int>(ex.pair.source.size()) - 1;
    }
    void tgt(const char* w, int from) {
        if (from >= 0) ex.alignment.emplace_back(from, static_cast<int>(ex.pair.target.size()));
        ex.pair.target.emplace_back(w);
    }
    void tgt(const std::vector<const char*>& words, int from) {
        for (const char* w : words) tgt(w, from);
    }
};

const Lexeme& pick(const std::vector<Lexeme>& v, Generator& g) { return v[g.next_u64() % v.size()]; }
bool coin(Generator& g, float p) { return g.uniform() < p; }

// A noun phrase: [det] adj* noun, with the source index of each word once emitted.
struct NounPhrase {
    const Lexeme* det = nullptr;
    std::vector<const Lexeme*> adjs;
    const Lexeme* noun = nullptr;
    int det_i = -1, noun_i = -1;
    std::vector<int> adj_i;

    static NounPhrase random(Generator& g, bool bare_allowed) {
        NounPhrase np;
        if (!bare_allowed || coin(g, 0.8f)) np.det = &pick(kDet, g);
        const std::size_t n_adj = g.next_u64() % 3;  // 0, 1 or 2 adjectives
        for (std::size_t k = 0; k < n_adj; ++k) np.adjs.push_back(&pick(kAdj, g));
        np.noun = &pick(kNoun, g);
        return np;
    }
    void emit_source(Builder& b) {
        if (det) det_i = b.src(det->src);
        for (const Lexeme* a : adjs) adj_i.push_back(b.src(a->src));
        noun_i = b.src(noun->src);
    }
    void emit_local(Builder& b) const {  // det noun adj*
        if (det) b.tgt(det->local, det_i);
        b.tgt(noun->local, noun_i);
        for (std::size_t k = 0; k < adjs.size(); ++k) b.tgt(adjs[k]->local, adj_i[k]);
    }
    void emit_far(Builder& b, const char* particle) const {  // [kono/dono] adj* noun [particle]
        if (det) b.tgt(det->far, det_i);
        for (std::size_t k = 0; k < adjs.size(); ++k) b.tgt(adjs[k]->far, adj_i[k]);
        b.tgt(noun->far, noun_i);
        if (particle) b.tgt(particle, noun_i);  // the case particle belongs to the noun
    }
};

// subject [does not] verb object [prep NP] [adverb]
struct Clause {
    NounPhrase subject, object, pp_object;
    const Lexeme* verb = nullptr;
    const Lexeme* prep = nullptr;
    const Lexeme* adv = nullptr;
    bool negated = false;
    int does_i = -1, not_i = -1, verb_i = -1, prep_i = -1, adv_i = -1;

    static Clause random(Generator& g) {
        Clause c;
        c.subject = NounPhrase::random(g, false);
        c.negated = coin(g, 0.25f);
        c.verb = &pick(kVerb, g);
        c.object = NounPhrase::random(g, false);
        if (coin(g, 0.4f)) {
            c.prep = &pick(kPrep, g);
            c.pp_object = NounPhrase::random(g, false);
        }
        if (coin(g, 0.4f)) c.adv = &pick(kAdv, g);
        return c;
    }
    void emit_source(Builder& b) {
        subject.emit_source(b);
        if (negated) {
            does_i = b.src("does");
            not_i = b.src("not");
        }
        verb_i = b.src(negated ? verb->base : verb->src);
        object.emit_source(b);
        if (prep) {
            prep_i = b.src(prep->src);
            pp_object.emit_source(b);
        }
        if (adv) adv_i = b.src(adv->src);
    }
    void emit_local(Builder& b) const {  // subject [ne] verb [pas] object [prep NP] [adverb]
        subject.emit_local(b);
        if (negated) b.tgt("ne", not_i);
        b.tgt(verb->local, verb_i);
        if (negated) b.tgt("pas", not_i);
        object.emit_local(b);
        if (prep) {
            b.tgt(prep->local, prep_i);
            pp_object.emit_local(b);
        }
        if (adv) b.tgt(adv->local, adv_i);
    }
    void emit_far(Builder& b) const {  // [adverb] subject ga [NP postposition] object o verb masu/masen
        if (adv) b.tgt(adv->far, adv_i);
        subject.emit_far(b, "ga");
        if (prep) {
            pp_object.emit_far(b, nullptr);
            b.tgt(prep->far, prep_i);
        }
        object.emit_far(b, "o");
        b.tgt(verb->far, verb_i);
        b.tgt(negated ? "masen" : "masu", negated ? not_i : verb_i);
    }
};

Example random_example(const std::string& task, Generator& g) {
    Builder b;
    const bool far = task == "long";
    if (coin(g, 0.1f)) {  // a fragment: a bare noun phrase, down to a single word
        NounPhrase np = NounPhrase::random(g, true);
        np.emit_source(b);
        if (far) np.emit_far(b, nullptr);
        else np.emit_local(b);
        return b.ex;
    }
    std::vector<Clause> clauses{Clause::random(g)};
    std::vector<const Lexeme*> conjs;
    while (clauses.size() < 5 && coin(g, 0.45f)) {  // up to five clauses: sentences of 60 words and more
        conjs.push_back(&pick(kConj, g));
        clauses.push_back(Clause::random(g));
    }
    std::vector<int> conj_i;
    for (std::size_t k = 0; k < clauses.size(); ++k) {
        if (k) conj_i.push_back(b.src(conjs[k - 1]->src));
        clauses[k].emit_source(b);
    }
    for (std::size_t k = 0; k < clauses.size(); ++k) {  // clauses keep their order; words move inside them
        if (k) b.tgt(far ? conjs[k - 1]->far : conjs[k - 1]->local, conj_i[k - 1]);
        if (far) clauses[k].emit_far(b);
        else clauses[k].emit_local(b);
    }
    return b.ex;
}

}  // namespace

std::vector<TaskInfo> list_tasks() {
    return {{"local", "English to a French-like language: adjectives after nouns, ne..pas negation, "
                      "some words become two or none (local reordering)"},
            {"long", "English to a Japanese-like verb-final language: verbs travel to the end of the clause, "
                     "adverbs to the front, postpositions, particles (long-distance reordering)"}};
}

bool task_exists(const std::string& name) {
    for (const TaskInfo& t : list_tasks())
        if (t.name == name) return true;
    return false;
}

Split split_of(const Sentence& source) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the words and separators
    for (const std::string& w : source) {
        for (char c : w) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        h = (h ^ ' ') * 1099511628211ull;
    }
    const std::uint64_t bucket = h % 10;
    return bucket == 0 ? Split::test : bucket == 1 ? Split::valid : Split::train;
}

std::vector<Example> generate(const std::string& task, std::size_t n, std::uint64_t seed, std::size_t min_len,
                              std::size_t max_len, Split split) {
    if (!task_exists(task)) throw std::invalid_argument("unknown task '" + task + "'");
    if (min_len < 1 || min_len > max_len)
        throw std::invalid_argument("the length range [" + std::to_string(min_len) + ", " + std::to_string(max_len) +
                                    "] is empty");
    Generator g(seed);
    std::vector<Example> out;
    std::size_t tries = 0;
    const std::size_t limit = 2000 * n + 100000;  // rejection sampling must not spin forever
    while (out.size() < n) {
        if (++tries > limit)
            throw std::invalid_argument("could not generate " + std::to_string(n) + " sentences of length " +
                                        std::to_string(min_len) + ".." + std::to_string(max_len) +
                                        " for this split; widen the range");
        Example ex = random_example(task, g);
        const std::size_t len = ex.pair.source.size();
        if (len < min_len || len > max_len) continue;
        if (split != Split::all && split_of(ex.pair.source) != split) continue;
        out.push_back(std::move(ex));
    }
    return out;
}

}  // namespace translator
