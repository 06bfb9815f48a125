# make real's data and RNNsearch settings, sourced by real.sh and family.sh so that both train and
# score on the same corpus with the same model sizes.
#   real_corpus TRANSLATOR_DIR DATA: writes DATA/{train,valid,test}.tsv once (WordNet 3.0's usage
#   examples of 3-20 words translated by Apertium, eng-spa), or keeps what an earlier run wrote.
#   real_rnnsearch: E 128, H 256, a deep output of 256, dropout 0.2 and label smoothing 0.1. The
#   paper's deep output (a maxout of 256 units before the softmax, Appendix A.2.2) makes the output
#   layer 3.5x cheaper, so 10 minutes hold more epochs; dropout 0.2 keeps them from overfitting, and
#   label smoothing 0.1 gives beam search better-spread word scores (docs/results.md: the runs that
#   chose this). The additive score's own size (--attn 128) is added where that score is used.
real_rnnsearch=(--emb 128 --hidden 256 --deep-output 256 --dropout 0.2 --label-smoothing 0.1)
real_subwords=4000
real_corpus() {
    local here=$1 data=$2
    if [ -s "$data/test.tsv" ]; then
        echo "   (kept from an earlier run: $data)"
        return
    fi
    /usr/bin/python3 "$here/make_corpus.py" "$data.tmp"
    rm -rf "$data"
    mv "$data.tmp" "$data"
}
