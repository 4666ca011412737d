"""Copied from RUCAIBox/R1-Searcher, train/reward_server_qwen_zero.py (commit
631167cbb3c2464f805730e3e364a690f5b136d4; MIT, see LICENSE.R1-Searcher): the answer metrics
unchanged, and the body of MathRuleProxy.get_reward's scoring loop for one solution,
unchanged but for the indentation and the per-item indexing (`score_one`)."""

import re
import string
from collections import Counter


def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation + "".join(["‘", "’", "´", "`"]))
        return "".join(ch if ch not in exclude else " " for ch in text)

    def lower(text):
        return text.lower()

    def replace_underscore(text):
        return text.replace("_", " ")

    return white_space_fix(remove_articles(remove_punc(lower(replace_underscore(s)))))


def bool_mapping(s):
    if s == "True":
        return "yes"
    elif s == "False":
        return "no"
    else:
        return s


def f1_score(prediction, ground_truth):
    normalized_prediction = normalize_answer(bool_mapping(prediction))
    normalized_ground_truth = normalize_answer(bool_mapping(ground_truth))

    ZERO_METRIC = (0, 0, 0)

    if (
        normalized_prediction in ["yes", "no", "noanswer"]
        and normalized_prediction != normalized_ground_truth
    ):
        return ZERO_METRIC
    if (
        normalized_ground_truth in ["yes", "no", "noanswer"]
        and normalized_prediction != normalized_ground_truth
    ):
        return ZERO_METRIC

    prediction_tokens = normalized_prediction.split()
    ground_truth_tokens = normalized_ground_truth.split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return ZERO_METRIC
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1, precision, recall


def score_one(solution, answer):
    """One solution's reward, as get_reward computes it (pred, F1, no-answer 0, -2 format)."""
    pred = solution.split("<answer>")[-1].split("</answer>")[0].strip()
    score = float(f1_score(pred, answer)[0])
    if "<answer>" not in solution or "</answer>" not in solution:
        score = 0.0
    format_punishment=False
    count_1 = solution.count("<|begin_of_documents|>\n")
    count_2 = solution.count("<|end_of_documents|>\n\n")
    count_3 = solution.count("<|begin_of_query|>")
    count_4 = solution.count("<|end_of_query|>")
    count_5 = solution.count("<|begin_of_documents|>")
    count_6 = solution.count("<|end_of_documents|>")
    count_7 = solution.count("<|begin_of_documents|>\n(1)")

    if count_1 == count_2 == count_3 == count_4 == count_5 == count_6 == count_7:
        pass
    else:
        format_punishment=True

    count_assiatant_1 = solution.count("Assistant")
    count_assiatant_2 = solution.count("assistant")
    if count_assiatant_1 == count_assiatant_2 ==0:
        pass
    else:
        format_punishment=True

    count_think_1 = solution.count("<think>")
    count_think_2 = solution.count("</think>")
    if count_think_1 ==0 and count_think_2==1:
        pass
    else:
        format_punishment=True

    count_answer_1 = solution.count("<answer>")
    count_answer_2 = solution.count("</answer>")
    if count_answer_1 == count_answer_2==1:
        pass
    else:
        format_punishment=True

    answer_text = solution.split("<answer>")[-1].split("</answer>")[0].strip()
    if "begin_of_query" not in answer_text and "begin_of_documents" not in answer_text:
        pass
    else:
        format_punishment=True

    answer_len=len(answer_text.split())
    if answer_len > 10:
        format_punishment=True

    modified_solution = re.sub(r'<\|begin_of_documents\|>.*?<\|end_of_documents\|>', '', solution, flags=re.DOTALL)
    have_chinese = any('\u4e00' <= char <= '\u9fff' for char in modified_solution)
    if have_chinese:
        format_punishment=True


    if format_punishment==True:
        score = score-2
    return score
