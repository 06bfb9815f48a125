# The demo's data, sourced by demo.sh and family.sh so that both train and score on the same task:
# `demo_task TRANSLATOR OUT` writes OUT/{train,valid,test}.tsv and .align of the task `long`
# (40,000 training pairs, 500 validation, 1,000 test; fixed seeds).
demo_task_name=long
demo_task() {
    "$1" generate --task $demo_task_name --n 40000 --seed 1 --split train --out "$2/train"
    "$1" generate --task $demo_task_name --n 500 --seed 2 --split valid --out "$2/valid"
    "$1" generate --task $demo_task_name --n 1000 --seed 3 --split test --out "$2/test"
}
