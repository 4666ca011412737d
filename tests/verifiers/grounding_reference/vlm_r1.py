"""`iou` copied unchanged from om-ai-lab/VLM-R1, src/open-r1-multimodal/src/open_r1/grpo_jsonl.py
(commit 90052f478646e38bc67363862f699b7afca6b337; Apache-2.0, see LICENSE.VLM-R1); the same function
is its REC `iou_reward`'s (vlm_modules/qwen_module.py)."""


def iou(box1, box2):
    inter_x1 = max(box1[0], box2[0])
    inter_y1 = max(box1[1], box2[1])
    inter_x2 = min(box1[2]-1, box2[2]-1)
    inter_y2 = min(box1[3]-1, box2[3]-1)
    if inter_x1 < inter_x2 and inter_y1 < inter_y2:
        inter = (inter_x2-inter_x1+1)*(inter_y2-inter_y1+1)
    else:
        inter = 0
    union = (box1[2]-box1[0])*(box1[3]-box1[1]) + (box2[2]-box2[0])*(box2[3]-box2[1]) - inter
    return float(inter)/union
