"""The subset of CEL that kube-apiserver evaluates for CRD ``x-kubernetes-validations`` and webhook ``matchConditions``.

Our CRD's rules are small (``self == oldSelf`` immutability, ``self in [...]``, ``!has(self.x) || ...``),
so a tokenizer and recursive-descent parser (``parser``), a tree-walking evaluator with the library
functions (``evaluator``) and the rule runner that words failures as kube-apiserver's causes
(``rules``) cover them with exact CEL semantics where it matters. An interpreter in three modules,
one per stage, each small enough to read against the CEL spec.
Supported: literals (int, uint, double, string, bytes-less, bool, null, list, map), field selection,
indexing, ``has``, ``size``, ``in``, arithmetic, comparisons, ``!``, ``?:``, the string functions
``startsWith``/``endsWith``/``contains``/``matches``, Kubernetes' string library (``lowerAscii``,
``upperAscii``, ``trim``, ``split``, ``replace``, ``indexOf``, ``lastIndexOf``, ``charAt``,
``substring``) and list library (``join``, ``sum``, ``min``, ``max``, ``isSorted``, ``indexOf``),
``int``/``uint``/``double``/``string`` conversions, and the macros
``all``/``exists``/``exists_one``/``map``/``filter``.

Decided against ``cel-python``: it pulls ``lark`` and more, compiles slowly (~3 ms per rule), and we
need its error texts to match kube-apiserver's anyway; the quantity, url, ip and regex-extension
libraries are not implemented.
"""

from ray_operator.sandbox.schema.cel.evaluator import evaluate
from ray_operator.sandbox.schema.cel.parser import CelError, Program, compile_rule
from ray_operator.sandbox.schema.cel.rules import check_rules, rule_cause

__all__ = ["CelError", "Program", "check_rules", "compile_rule", "evaluate", "rule_cause"]
