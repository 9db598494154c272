"""Batch scoring of a DataFrame with the detector you hold, then the evaluation report.

    python examples/score_and_eval.py        # needs pandas and pyarrow (quco[frames])
"""

import pandas as pd
from _tiny import detector

import quco

rows = pd.DataFrame({
    "question": ["Who wrote Hamlet?", "Who wrote Hamlet?", "Who wrote Oliver Twist?", "Who wrote Oliver Twist?"],
    "answer": ["William Shakespeare", "Charles Dickens", "Charles Dickens", "William Shakespeare"],
    "hallucinated": [False, True, False, True],
})
scored = quco.score(rows, detector=detector(), answer_field="answer")
print(scored[["question", "answer", "answer_risk", "retrieve"]].to_string(index=False))
result = quco.evaluate(scored, label_field="hallucinated")
print(f"rows {result.rows}, AUROC {result.auroc:.2f}")
