{{/*
The operator's rules on the namespaces it watches: exactly the verbs it uses on exactly the resources it
touches (kubetask_operator/_controller.py, _maps.py, _events.py and the kopf handlers in _handlers.py), no wildcards.
tests/chart/test_rbac.py holds the reviewed copy of this list.
*/}}
{{- define "kubetask.operatorRules" -}}
# TaskRuns: listed and watched by kopf, re-read after a status conflict, deleted after
# ttlSecondsAfterFinished. The operator never writes a TaskRun's spec (no finalizers); it creates the
# items of a TaskMap and patches their spec.cancelled when the map is cancelled (kubetask_operator/_maps.py),
# and labels a cache-enabled TaskRun with its cache key (kubetask.dev/cache-key) so identical runs find each
# other by label.
- apiGroups: ["kubetask.dev"]
  resources: ["taskruns"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# TaskMaps: listed and watched by kopf, deleted after ttlSecondsAfterFinished (their items go with them).
- apiGroups: ["kubetask.dev"]
  resources: ["taskmaps"]
  verbs: ["list", "watch", "delete"]
- apiGroups: ["kubetask.dev"]
  resources: ["taskmaps/status"]
  verbs: ["patch"]
# The status subresource: phase, conditions, attempts, outputs and errors, as merge patches.
- apiGroups: ["kubetask.dev"]
  resources: ["taskruns/status"]
  verbs: ["patch"]
# TaskQueues: watched for their maxRunning (TaskRuns naming one wait Queued beyond it); their status
# carries the running and queued counts.
- apiGroups: ["kubetask.dev"]
  resources: ["taskqueues"]
  verbs: ["list", "watch"]
- apiGroups: ["kubetask.dev"]
  resources: ["taskqueues/status"]
  verbs: ["patch"]
# One pod per attempt: created, watched (its own pods only, by label), read when its state is unknown,
# patched with activeDeadlineSeconds to stop it on cancel or timeout (its logs stay readable), deleted when
# it must go.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Inputs too large for a data: URI travel in a ConfigMap owned by the TaskRun (garbage-collected with it).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create"]
# The PodTemplate a TaskRun names in spec.podTemplateName, read as each attempt's pod is built.
- apiGroups: [""]
  resources: ["podtemplates"]
  verbs: ["get"]
# An Event on the TaskRun for every transition; a pod's Events listed when it waits in ContainerCreating
# without saying why (the kubelet's FailedMount names a missing Secret or ConfigMap volume).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "list"]
{{- end }}
