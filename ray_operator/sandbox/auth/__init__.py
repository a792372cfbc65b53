"""Who is asking and may they: the emulator's authentication and RBAC authorization, as kube-apiserver does them.

Without it every token was the cluster admin, so an operator whose ``config/rbac`` lacks a rule passed
every test here and failed in its first real cluster. The pieces follow kube-apiserver's filters:

* ``tokens`` — ServiceAccount tokens: signed JWTs (``serviceaccounts/token``, TokenRequest), checked
  against the ServiceAccount (and the Pod or Secret they are bound to) still existing;
* ``authn`` — a bearer token to a user: the sandbox's static admin token, or a ServiceAccount token;
* ``requestinfo`` — a request's RBAC attributes (verb, group, resource, subresource, namespace, name,
  or a non-resource path), after apiserver's ``RequestInfoFactory``;
* ``rbac`` — the authorizer over stored Roles, ClusterRoles and their bindings, with upstream's
  allowed/denied reasons, and the rule list ``SelfSubjectRulesReview`` answers with;
* ``bootstrap`` — the default policy every cluster starts with (``cluster-admin`` for
  ``system:masters``, discovery and ``/healthz`` for everyone authenticated);
* ``impersonation`` — ``Impersonate-User``/``-Group`` headers (``kubectl --as``);
* ``gate`` — the three together for one HTTP request, with the exact 401 and 403 ``Status`` bodies.

It imports the store and errors of the sandbox and nothing of the operator.
Decided against: an allow-all switch per test (plain-HTTP sandboxes already skip authentication, as
kubectl sends no token there) and ABAC or webhook authorizers (no one here uses them).
"""
