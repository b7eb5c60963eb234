"""The free-text consensus (tally.aggregation.text): the medoid, the ROVER word vote, Unicode, weights."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from tally.aggregation._unicode_text import graphemes, normalize, tokens, word_key
from tally.aggregation.text import Mode, TextVote, split_words
from tests.sim.text import TEXT_CROWDS, short_batch, transcription_batch, word_errors


# ---------------------------------------------------------------------- Unicode
def test_graphemes_keep_accents_emoji_sequences_flags_and_hangul_whole() -> None:
    family = "👨\u200d👩\u200d👧"
    text = f"e\u0301{family}👍🏽🇫🇷🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f\u1100\u1161\u11a8\r\n"
    assert graphemes(text) == [
        "e\u0301",
        family,
        "👍🏽",
        "🇫🇷",
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
        "\u1100\u1161\u11a8",
        "\r\n",
    ]
    assert graphemes("🇫🇷🇩🇪🇮") == ["🇫🇷", "🇩🇪", "🇮"]  # regional indicators pair up, left to right


def test_word_keys_fold_case_compatibility_forms_and_edge_punctuation_only() -> None:
    assert word_key("Straße,") == "strasse"
    assert word_key("ＡＢＣ") == "abc"  # full-width letters
    assert word_key("e\u0301") == word_key("\u00e9") == "\u00e9"  # decomposed and composed é: one key
    assert word_key('"don\'t"') == "don't"
    assert word_key("3.5") == "3.5"
    assert word_key("...") == "..."  # punctuation alone stays a word


def test_normalize_drops_punctuation_words_and_collapses_whitespace() -> None:
    assert normalize("  Hello,\tWORLD !  ") == "hello world"
    assert normalize("東京 タワー。") == "東京タワー"
    assert normalize("") == normalize("  ... ") == ""


def test_words_of_unspaced_scripts_are_graphemes_and_remember_their_spacing() -> None:
    assert tokens("私は 東京 tower") == [("私", True), ("は", False), ("東", True), ("京", False), ("tower", True)]
    assert split_words("กา แมว") == ["ก", "า", "แ", "ม", "ว"]


# ---------------------------------------------------------------------- short answers: the medoid
def test_one_answer_comes_back_exactly_as_typed() -> None:
    [voted] = TextVote().fit_predict([[(3, "  Main St. ")]])
    assert (voted.text, voted.confidence, voted.method, voted.workers, voted.agreement) == (
        "  Main St. ",
        1.0,
        "medoid",
        (3,),
        (1.0,),
    )


def test_the_medoid_outvotes_a_typo_and_keeps_the_majoritys_spelling() -> None:
    answers = [(0, "Main St"), (1, "main st."), (2, "Mian St"), (3, "Main St")]
    [voted] = TextVote(mode="short").fit_predict([answers])
    assert voted.text == "Main St"  # "Main St" typed twice, "main st." once: the same answer, two spellings
    assert voted.workers == (0, 1, 3)
    assert voted.agreement == pytest.approx((1.0, 1.0, 5 / 7, 1.0))


def test_answers_that_all_differ_say_so_with_a_low_confidence() -> None:
    [voted] = TextVote().fit_predict([[(0, "cat"), (1, "dog"), (2, "bird")]])
    assert voted.text == "cat"  # a three-way tie: the lowest worker index
    assert voted.confidence == pytest.approx(1 / 3)
    assert voted.agreement == (1.0, 0.0, 0.0)


def test_a_tie_goes_to_the_lower_worker_whatever_the_order_of_the_answers() -> None:
    first = TextVote().fit_predict([[(1, "cat"), (0, "dog")]])[0]
    second = TextVote().fit_predict([[(0, "dog"), (1, "cat")]])[0]
    assert first.text == second.text == "dog"
    assert first.agreement == (0.0, 1.0)  # in the order given
    assert second.agreement == (1.0, 0.0)


def test_an_empty_answer_is_an_answer() -> None:
    voted = TextVote().predict([[(0, ""), (1, ""), (2, "a")], [(0, ""), (1, "")], [], [(0, "yes"), (1, "")]])
    assert [v.text for v in voted] == ["", "", "", "yes"]
    assert [v.confidence for v in voted[:3]] == [pytest.approx(2 / 3), 1.0, 0.0]
    assert voted[2].method == "medoid" and voted[2].agreement == ()


@pytest.mark.parametrize("mode", ["auto", "short", "transcription"])
def test_a_batch_without_any_answer_gives_empty_results(mode: Mode) -> None:
    assert TextVote(mode=mode).fit_predict([]) == []
    voted = TextVote(mode=mode).fit_predict([[], []])
    assert [(v.text, v.confidence, v.agreement) for v in voted] == [("", 0.0, ()), ("", 0.0, ())]
    assert {v.method for v in voted} == {"rover" if mode == "transcription" else "medoid"}


def test_accents_emoji_and_cjk_compare_by_grapheme_and_come_back_as_typed() -> None:
    objects = [
        [(0, "cafe\u0301 crème"), (1, "café crème"), (2, "caffe creme")],
        [(0, "👍🏽 great"), (1, "👍🏾 great"), (2, "👍🏽 great!")],
        [(0, "東京"), (1, "東京"), (2, "東亰")],
    ]
    voted = TextVote(mode="short").fit_predict(objects)
    assert [v.text for v in voted] == ["cafe\u0301 crème", "👍🏽 great", "東京"]
    assert voted[0].workers == (0, 1)  # composed and decomposed é are the same answer
    assert voted[1].agreement[1] == pytest.approx(1 - 1 / 7)  # one grapheme of seven differs, not two code points
    assert unicodedata.normalize("NFC", voted[0].text) == "café crème"


# ---------------------------------------------------------------------- transcriptions: ROVER
TRANSCRIPTIONS = [
    (0, "The quick brown fox jumps over the lazy dog."),
    (1, "the quick brown fox jumped over the lazy dog"),
    (2, "The quick brwn fox jumps over the dog."),
    (3, "The quick brown fox jumps over the lazy lazy dog."),
    (4, "A quick brown fox jumps over the lazy dog."),
]


def test_every_workers_typo_omission_and_insertion_is_outvoted_word_by_word() -> None:
    [voted] = TextVote().fit_predict([TRANSCRIPTIONS])
    assert voted.method == "rover"
    assert voted.text == "The quick brown fox jumps over the lazy dog."
    assert voted.words == ("The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog.")
    assert voted.differing == ((), (4,), (2,), (7,), (0,))  # jumped, brwn, the extra lazy, A
    assert voted.workers == (0,)  # worker 1 differs in "jumped" only, but differs
    assert voted.agreement == pytest.approx((1.0, 8 / 9, 7 / 9, 9 / 10, 8 / 9))


def test_the_result_does_not_depend_on_the_order_of_the_answers() -> None:
    forward = TextVote().fit_predict([TRANSCRIPTIONS])[0]
    backward = TextVote().fit_predict([TRANSCRIPTIONS[::-1]])[0]
    assert forward.text == backward.text
    assert forward.word_confidence == pytest.approx(backward.word_confidence)
    assert backward.agreement == pytest.approx(forward.agreement[::-1])


def test_a_word_most_workers_typed_survives_the_backbones_omission() -> None:
    answers = [(0, "one two four five"), (1, "one two three four five"), (2, "one two three four five")]
    [voted] = TextVote(mode="transcription", n_iter=0).fit_predict([answers])
    assert voted.text == "one two three four five"


def test_typo_variants_all_vote_for_a_words_presence() -> None:
    # two typed nothing, three typed the word, each differently: the word is there, the heaviest spelling wins
    answers = [(0, "a b d e"), (1, "a b d e"), (2, "a b cat d e"), (3, "a b cta d e"), (4, "a b cat d e")]
    [voted] = TextVote(mode="transcription", n_iter=0).predict([answers])
    assert voted.text == "a b cat d e"


def test_a_typo_typed_once_loses_a_tie_to_the_word_it_mangles() -> None:
    # "the" is all over the batch, "teh" once: with two voters one each, the frequent word wins the tie
    filler = [[(0, "the cat and the dog"), (1, "the cat and the dog")]] * 3
    tie = [[(0, "teh end of the day"), (1, "the end of the day")]]
    voted = TextVote(mode="transcription", n_iter=0).predict(filler + tie)
    assert voted[-1].text == "the end of the day"
    plain = TextVote(mode="transcription", n_iter=0, word_prior=0.0).predict(filler + tie)
    assert plain[-1].text == "teh end of the day"  # votes alone: the tie goes to the backbone (worker 0)


def test_a_worker_who_stopped_typing_abstains_after_its_last_word() -> None:
    answers = [(0, "one two three four five six"), (1, "one two three four five six"), (2, "one two tree")]
    [voted] = TextVote(mode="transcription").fit_predict([answers])
    assert voted.text == "one two three four five six"
    assert voted.word_confidence[3:] == (1.0, 1.0, 1.0)  # worker 2 has no vote there
    assert voted.agreement[2] == pytest.approx(1 / 3)  # but its answer still lacks four words and has a typo
    assert voted.differing == ((), (), (2,))


def test_an_empty_transcription_votes_nothing() -> None:
    [voted] = TextVote(mode="transcription", n_iter=0).predict([[(0, "a b c d e"), (1, ""), (2, "")]])
    assert voted.text == ""
    assert voted.words == () and voted.differing == ((0, 1, 2, 3, 4), (), ())


def test_unspaced_scripts_are_voted_character_by_character() -> None:
    answers = [(0, "東京タワーは高い"), (1, "東京タウーは高い"), (2, "東京タワーは高い。")]
    [voted] = TextVote(mode="transcription").fit_predict([answers])
    assert voted.text == "東京タワーは高い"
    assert voted.differing == ((), (3,), (8,))


def test_spacing_follows_the_voters() -> None:
    answers = [(0, "Tokyo 東京タワー is tall"), (1, "Tokyo 東京タワー is tall"), (2, "Tokyo東京タワー is tall")]
    assert TextVote(mode="transcription").fit_predict([answers])[0].text == "Tokyo 東京タワー is tall"


def test_auto_votes_transcriptions_and_takes_the_medoid_of_short_answers_and_captions() -> None:
    objects = [
        TRANSCRIPTIONS,
        [(0, "Main St."), (1, "main street"), (2, "Main St")],
        [
            (0, "A dog runs on the beach"),
            (1, "Brown puppy playing in sand near the sea"),
            (2, "a dog running along a beach at sunset"),
        ],
    ]
    voted = TextVote().predict(objects)  # equal weights
    assert [v.method for v in voted] == ["rover", "medoid", "medoid"]
    assert voted[2].text == "a dog running along a beach at sunset"


# ---------------------------------------------------------------------- worker statistics
def test_worker_statistics_count_each_workers_agreement_with_the_others() -> None:
    model = TextVote(mode="transcription").fit([[(0, "a b c d"), (1, "a b c d"), (2, "a x c d")]])
    assert model.worker_statistics_.tolist() == [[4.0, 4.0], [4.0, 4.0], [4.0, 3.0]]
    assert model.worker_weights_[2] < model.worker_weights_[0] == model.worker_weights_[1]


def test_the_prior_from_earlier_batches_decides_a_two_worker_tie() -> None:
    tie = [[(0, "alpha"), (1, "beta")]]
    assert TextVote().fit_predict(tie)[0].text == "alpha"  # no evidence: the lower worker index
    earlier = TextVote(mode="short").fit([[(0, "x"), (1, "y"), (2, "y"), (3, "y")]] * 10).worker_statistics_
    assert earlier.tolist() == [[10.0, 0.0], [10.0, 10.0], [10.0, 10.0], [10.0, 10.0]]
    assert TextVote().fit_predict(tie, prior=earlier)[0].text == "beta"


def test_predict_reuses_the_fitted_batch_and_gives_what_a_fresh_batch_gives() -> None:
    _, objects = transcription_batch(TEXT_CROWDS["one-careless-3"], 30, seed=11)
    model = TextVote().fit(objects)
    same = model.predict(objects)
    fresh = model.predict([list(answers) for answers in objects])
    assert [v.text for v in same] == [v.text for v in fresh]
    assert [v.confidence for v in same] == pytest.approx([v.confidence for v in fresh])


@pytest.mark.parametrize(
    ("prior", "message"),
    [(np.zeros(3), "must be an"), (np.full((2, 2), -1.0), "non-negative"), (np.full((1, 2), np.nan), "must be an")],
)
def test_a_bad_prior_is_refused_with_its_shape(prior: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TextVote().fit([[(0, "a")]], prior=prior)


def test_bad_answers_and_parameters_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="object 0: worker 1's answer is a int, not text"):
        TextVote().fit([[(0, "a"), (1, 5)]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="negative"):
        TextVote().fit([[(-1, "a")]])
    with pytest.raises(ValueError, match="mode must be"):
        TextVote(mode="long")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- simulated crowds
def test_the_vote_beats_every_worker_and_the_medoid_on_a_crowd_with_a_careless_worker() -> None:
    truths, objects = transcription_batch(TEXT_CROWDS["one-careless-3"], 40, seed=5)
    voted = TextVote().fit_predict(objects)
    medoid = TextVote(mode="short").fit_predict(objects)
    vote_errors = sum(word_errors(v.text, t)[0] for v, t in zip(voted, truths, strict=True))
    medoid_errors = sum(word_errors(v.text, t)[0] for v, t in zip(medoid, truths, strict=True))
    words = sum(word_errors(t, t)[1] for t in truths)
    per_worker: dict[int, list[int]] = {}
    for answers, truth in zip(objects, truths, strict=True):
        for worker, text in answers:
            errors, n = word_errors(text, truth)
            per_worker.setdefault(worker, [0, 0])
            per_worker[worker][0] += errors
            per_worker[worker][1] += n
    best_worker = min(e / n for e, n in per_worker.values())
    assert vote_errors / words < best_worker
    assert vote_errors < medoid_errors


def test_short_answers_of_a_simulated_crowd_mostly_come_back_right() -> None:
    truths, objects = short_batch(TEXT_CROWDS["one-careless-5"], 60, seed=5)
    voted = TextVote().fit_predict(objects)
    assert all(v.method == "medoid" for v in voted)
    right = sum(normalize(v.text) == normalize(t) for v, t in zip(voted, truths, strict=True))
    assert right >= 57
