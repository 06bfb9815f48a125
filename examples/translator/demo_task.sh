# The demo's data and how a model is trained and scored on it, sourced by demo.sh, family.sh and
# versus.sh so that every comparison trains and scores on the same task the same way.
# `demo_task TRANSLATOR OUT` writes OUT/{train,valid,test}.tsv and .align of the task `long`
# (40,000 training pairs, 500 validation, 1,000 test; fixed seeds).
demo_task_name=long
demo_task() {
    "$1" generate --task $demo_task_name --n 40000 --seed 1 --split train --out "$2/train"
    "$1" generate --task $demo_task_name --n 500 --seed 2 --split valid --out "$2/valid"
    "$1" generate --task $demo_task_name --n 1000 --seed 3 --split test --out "$2/test"
}

# The sentence each comparison draws its models' attention on.
demo_sentence="this child paints a green tree with a small book but the man watches the river again"

# `demo_train_and_score TRANSLATOR DIR NAME SECONDS [TRAIN FLAGS...]`: trains DIR/NAME (replaced) on
# DIR's data for SECONDS on 2 threads, scores it on DIR/test.tsv against the gold alignments and draws
# its attention on demo_sentence into DIR/NAME.svg. Sets `parameters`, `steps` and `scores` (eval's JSON).
demo_train_and_score() {
    local translator=$1 dir=$2 name=$3 seconds=$4 log
    shift 4
    rm -rf "${dir:?}/$name"
    log=$("$translator" train --train "$dir/train.tsv" --valid "$dir/valid.tsv" --out "$dir/$name" "$@" \
        --epochs 1000 --time-limit "$seconds" --threads 2 2>&1 | tr '\r' '\n')
    parameters=$(grep -o '[0-9]* parameters' <<<"$log" | head -1 | cut -d' ' -f1)
    steps=$(grep -o 'after [0-9]* steps' <<<"$log" | tail -1 | cut -d' ' -f2)
    scores=$("$translator" eval --checkpoint "$dir/$name" --data "$dir/test.tsv" --align "$dir/test.align" --json --threads 2)
    "$translator" attention --checkpoint "$dir/$name" --source "$demo_sentence" --svg "$dir/$name.svg" > /dev/null
}

# `score FIELD`: a whole-test-set figure of $scores (those before "by_length": each length bucket has
# its own after it); `exact_percent`: the exact match as a percentage.
score() { sed -E "s/\"by_length\".*//; s/\"aer_best_head\": \{[^}]*\}//; s/.*\"$1\": ([0-9.]+).*/\1/" <<<"$scores"; }
exact_percent() { awk -v x="$(score exact_match)" 'BEGIN {printf "%.1f%%", 100 * x}'; }
