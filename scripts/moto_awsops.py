"""What awsops needs from CloudFront that moto 5.2.5 lacks, added to its server.

Started in place of `moto_server` (scripts/install-moto.sh writes the
wrapper); everything else is moto as released. Modelled on CloudFront's
documented behaviour:

- Functions have two stages. UpdateFunction changes DEVELOPMENT,
  PublishFunction copies it to LIVE; DescribeFunction and GetFunction take
  `Stage`, each stage has its own ETag, and IfMatch must be the DEVELOPMENT
  ETag. DeleteFunction refuses a function a distribution uses (FunctionInUse).
- A distribution's default cache behaviour keeps its FunctionAssociations
  (moto forces them to zero).
- Response headers policies: create, get, get config, update, delete, list;
  names are unique (ResponseHeadersPolicyAlreadyExists); a policy in use
  cannot be deleted (ResponseHeadersPolicyInUse); at most
  AWSOPS_MOTO_MAX_RESPONSE_HEADERS_POLICIES custom ones (default 20, the
  account quota: TooManyResponseHeadersPolicies).
- CloudWatch over the Smithy RPC v2 CBOR protocol, which the Rust SDK speaks
  (moto 5.2.5 serves CloudWatch over query and JSON only): each request is
  decoded and handed to moto as the same call in the JSON protocol, and the
  answer encoded back, timestamps as CBOR epoch times (tag 1).
- Aurora failovers that take time: a cluster tagged
  `awsops-test/failover-seconds=N` answers FailoverDBCluster at once but is
  `failing-over` for N seconds before the writer changes (moto swaps at the
  call, which no real cluster does); a second call meanwhile is refused
  (InvalidDBClusterStateFault), as RDS does.
"""

import os
import sys

from moto.cloudfront import models, responses, urls
from moto.cloudfront.exceptions import CloudFrontException, NoSuchFunctionExists
from moto.cloudfront.models import CloudFrontBackend, CloudFrontFunction, random_id
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

MAX_POLICIES = int(os.environ.get("AWSOPS_MOTO_MAX_RESPONSE_HEADERS_POLICIES", "20"))


def _refuse(code, message):
    raise CloudFrontException(code, message)


def _check_if_match(given, current):
    if not given:
        _refuse("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if given != current:
        _refuse("PreconditionFailed", "The precondition given in one or more of the request header fields evaluated to false.")


# Distributions keep the function associations they are given.
_behaviour_init = models.DefaultCacheBehaviour.__init__


def _behaviour_with_functions(self, config):
    _behaviour_init(self, config)
    items = (config.get("FunctionAssociations") or {}).get("Items") or []
    self.function_associations = {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


models.DefaultCacheBehaviour.__init__ = _behaviour_with_functions


def _behaviours(backend):
    for dist in backend.distributions.values():
        config = dist.distribution_config
        yield config.DefaultCacheBehavior
        for behaviour in (config.CacheBehaviors or {}).get("Items") or []:
            yield behaviour


def _function_in_use(backend, arn):
    for behaviour in _behaviours(backend):
        items = (behaviour.function_associations or {}).get("Items") or []
        if any(item.get("FunctionARN") == arn for item in items):
            return True
    return False


# Function stages.
_function_init = CloudFrontFunction.__init__


def _function_with_stages(self, *args, **kwargs):
    _function_init(self, *args, **kwargs)
    self.live = None  # (code, config, etag) once published


CloudFrontFunction.__init__ = _function_with_stages


def _summary(function, stage):
    summary = function.function_summary
    summary["Status"] = "UNASSOCIATED" if function.live else "UNPUBLISHED"
    summary["FunctionMetadata"]["Stage"] = stage
    if stage == "LIVE":
        summary["FunctionConfig"] = function.live[1]
    return summary


def _stage(function, stage):
    """(code, etag) of the stage asked for."""
    if stage == "LIVE":
        if function.live is None:
            raise NoSuchFunctionExists(function.name)
        return function.live[0], function.live[2]
    return function.code, function.etag


def update_function(self, name, if_match, function_config, function_code):
    function = self.describe_function(name)
    _check_if_match(if_match, function.etag)
    function.config = function_config
    function.code = function_code
    function.etag = random_id()
    function.last_modified_time = utcnow()
    return function


def publish_function(self, name, if_match):
    function = self.describe_function(name)
    _check_if_match(if_match, function.etag)
    function.live = (function.code, function.config, random_id())
    function.last_modified_time = utcnow()
    return function


def delete_function(self, name, if_match):
    function = self.describe_function(name)
    _check_if_match(if_match, function.etag)
    if _function_in_use(self, function.arn):
        _refuse("FunctionInUse", f"Cannot delete function {name}: it is associated with a distribution.")
    del self.functions[name]


CloudFrontBackend.update_function = update_function
CloudFrontBackend.publish_function = publish_function
CloudFrontBackend.delete_function = delete_function


def r_describe_function(self):
    function = self.backend.describe_function(name=self._get_param("Name"))
    stage = self._get_param("Stage") or "DEVELOPMENT"
    _, etag = _stage(function, stage)
    return ActionResult({"FunctionSummary": _summary(function, stage), "ETag": etag})


def r_get_function(self):
    function = self.backend.get_function(name=self._get_param("Name"))
    code, etag = _stage(function, self._get_param("Stage") or "DEVELOPMENT")
    return ActionResult({"FunctionCode": code, "ETag": etag, "ContentType": "application/octet-stream"})


def r_update_function(self):
    function = self.backend.update_function(
        name=self._get_param("Name"),
        if_match=self._get_param("IfMatch"),
        function_config=self._get_param("FunctionConfig", {}),
        function_code=self._get_param("FunctionCode"),
    )
    return ActionResult({"FunctionSummary": _summary(function, "DEVELOPMENT"), "ETag": function.etag})


def r_publish_function(self):
    function = self.backend.publish_function(name=self._get_param("Name"), if_match=self._get_param("IfMatch"))
    return ActionResult({"FunctionSummary": _summary(function, "LIVE")})


responses.CloudFrontResponse.describe_function = r_describe_function
responses.CloudFrontResponse.get_function = r_get_function
responses.CloudFrontResponse.update_function = r_update_function
responses.CloudFrontResponse.publish_function = r_publish_function


# Response headers policies.
class ResponseHeadersPolicy:
    def __init__(self, config):
        self.id = random_id(uppercase=False, length=36)
        self.config = config
        self.etag = random_id()
        self.last_modified = utcnow()

    def view(self):
        return {"Id": self.id, "LastModifiedTime": self.last_modified, "ResponseHeadersPolicyConfig": self.config}


def _policies(backend):
    if not hasattr(backend, "response_headers_policies"):
        backend.response_headers_policies = {}
    return backend.response_headers_policies


def _policy(backend, policy_id):
    policy = _policies(backend).get(policy_id)
    if policy is None:
        _refuse("NoSuchResponseHeadersPolicy", f"The response headers policy {policy_id} does not exist.")
    return policy


def _name_taken(backend, name, except_id=None):
    return any(p.config.get("Name") == name and p.id != except_id for p in _policies(backend).values())


def create_response_headers_policy(self, config):
    if _name_taken(self, config.get("Name")):
        _refuse("ResponseHeadersPolicyAlreadyExists", "A response headers policy with this name already exists.")
    if len(_policies(self)) >= MAX_POLICIES:
        _refuse("TooManyResponseHeadersPolicies", f"You have reached the maximum number of response headers policies ({MAX_POLICIES}).")
    policy = ResponseHeadersPolicy(config)
    _policies(self)[policy.id] = policy
    return policy


def update_response_headers_policy(self, policy_id, if_match, config):
    policy = _policy(self, policy_id)
    _check_if_match(if_match, policy.etag)
    if _name_taken(self, config.get("Name"), except_id=policy_id):
        _refuse("ResponseHeadersPolicyAlreadyExists", "A response headers policy with this name already exists.")
    policy.config = config
    policy.etag = random_id()
    policy.last_modified = utcnow()
    return policy


def delete_response_headers_policy(self, policy_id, if_match):
    policy = _policy(self, policy_id)
    _check_if_match(if_match, policy.etag)
    if any(b.response_headers_policy_id == policy_id for b in _behaviours(self)):
        _refuse("ResponseHeadersPolicyInUse", f"The response headers policy {policy_id} is attached to a distribution.")
    del _policies(self)[policy_id]


CloudFrontBackend.create_response_headers_policy = create_response_headers_policy
CloudFrontBackend.update_response_headers_policy = update_response_headers_policy
CloudFrontBackend.delete_response_headers_policy = delete_response_headers_policy


def r_create_response_headers_policy(self):
    policy = self.backend.create_response_headers_policy(self._get_param("ResponseHeadersPolicyConfig", {}))
    return ActionResult(
        {
            "ResponseHeadersPolicy": policy.view(),
            "Location": f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy.id}",
            "ETag": policy.etag,
        }
    )


def r_get_response_headers_policy(self):
    policy = _policy(self.backend, self._get_param("Id"))
    return ActionResult({"ResponseHeadersPolicy": policy.view(), "ETag": policy.etag})


def r_get_response_headers_policy_config(self):
    policy = _policy(self.backend, self._get_param("Id"))
    return ActionResult({"ResponseHeadersPolicyConfig": policy.config, "ETag": policy.etag})


def r_update_response_headers_policy(self):
    policy = self.backend.update_response_headers_policy(
        self._get_param("Id"), self._get_param("IfMatch"), self._get_param("ResponseHeadersPolicyConfig", {})
    )
    return ActionResult({"ResponseHeadersPolicy": policy.view(), "ETag": policy.etag})


def r_delete_response_headers_policy(self):
    self.backend.delete_response_headers_policy(self._get_param("Id"), self._get_param("IfMatch"))
    return EmptyResult()


def r_list_response_headers_policies(self):
    # Custom policies only, on one page: moto models no managed ones.
    kind = self._get_param("Type")
    policies = [] if kind == "managed" else list(_policies(self.backend).values())
    items = [{"Type": "custom", "ResponseHeadersPolicy": p.view()} for p in policies]
    return ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}})


responses.CloudFrontResponse.create_response_headers_policy = r_create_response_headers_policy
responses.CloudFrontResponse.get_response_headers_policy = r_get_response_headers_policy
responses.CloudFrontResponse.get_response_headers_policy_config = r_get_response_headers_policy_config
responses.CloudFrontResponse.update_response_headers_policy = r_update_response_headers_policy
responses.CloudFrontResponse.delete_response_headers_policy = r_delete_response_headers_policy
responses.CloudFrontResponse.list_response_headers_policies = r_list_response_headers_policies

dispatch = responses.CloudFrontResponse.dispatch
urls.url_paths.update(
    {
        "{0}/2020-05-31/function/(?P<function_name>[^/]+)/publish$": dispatch,
        "{0}/2020-05-31/response-headers-policy$": dispatch,
        "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": dispatch,
        "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": dispatch,
    }
)

# Aurora failovers that take time.
import time

from moto.rds.exceptions import InvalidDBClusterStateFault
from moto.rds.models import DBCluster, RDSBackend

FAILOVER_SECONDS_TAG = "awsops-test/failover-seconds"
_original_failover = DBCluster.failover


def _failover_seconds(cluster):
    for tag in cluster.tags or []:
        if tag.get("Key") == FAILOVER_SECONDS_TAG:
            return float(tag.get("Value") or 0)
    return 0.0


def _settle(cluster):
    """Applies a swap whose time has come."""
    due = getattr(cluster, "_awsops_swap", None)
    if due is not None and time.time() >= due[0]:
        cluster._awsops_swap = None
        _original_failover(cluster, due[1])
        cluster._status = "available"


def _failover_in_time(self, target_instance):
    seconds = _failover_seconds(self)
    if seconds <= 0:
        return _original_failover(self, target_instance)
    self._status = "failing-over"
    self._awsops_swap = (time.time() + seconds, target_instance)


def _settled(method):
    def wrapper(self, *args, **kwargs):
        for cluster in list(self.clusters.values()):
            _settle(cluster)
        return method(self, *args, **kwargs)

    return wrapper


_original_failover_db_cluster = RDSBackend.failover_db_cluster


def _failover_db_cluster(self, db_cluster_identifier, target_db_instance_identifier=None):
    cluster = self.clusters.get(db_cluster_identifier)
    if cluster is not None and getattr(cluster, "_awsops_swap", None) is not None:
        raise InvalidDBClusterStateFault(f"DbCluster {db_cluster_identifier} is not in available state.")
    return _original_failover_db_cluster(self, db_cluster_identifier, target_db_instance_identifier)


DBCluster.failover = _failover_in_time
RDSBackend.failover_db_cluster = _settled(_failover_db_cluster)
RDSBackend.describe_db_clusters = _settled(RDSBackend.describe_db_clusters)
RDSBackend.describe_db_instances = _settled(RDSBackend.describe_db_instances)


# CloudWatch over Smithy RPC v2 CBOR.
import datetime
import io
import json
import re

import botocore.session
import cbor2
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

RPC_V2_PATH = re.compile(r"^/service/(?P<service>[A-Za-z0-9]+)/operation/(?P<operation>[A-Za-z0-9]+)$")
RPC_V2_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}
_models = {}


def _model(service):
    if service not in _models:
        _models[service] = botocore.session.get_session().get_service_model(service)
    return _models[service]


def _to_json(value):
    """A decoded CBOR request as JSON-protocol data (datetimes as epoch seconds)."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    return value


def _timestamps(value, shape):
    """A JSON-protocol answer with the timestamps `shape` declares as datetimes."""
    if shape is None or value is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _timestamps(v, shape.members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_timestamps(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _timestamps(v, shape.value) for k, v in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    if shape.type_name == "timestamp" and isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


_dispatch = DomainDispatcherApplication.__call__


def _dispatch_rpc_v2(self, environ, start_response):
    match = RPC_V2_PATH.match(environ.get("PATH_INFO", ""))
    service = match and RPC_V2_SERVICES.get(match.group("service"))
    if not service or environ.get("REQUEST_METHOD") != "POST":
        return _dispatch(self, environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        body = json.dumps(_to_json(cbor2.loads(raw)) if raw else {}).encode()
    except Exception as e:  # what CloudWatch answers a body it cannot read
        return _cbor_answer(start_response, "400 Bad Request", [], {"__type": "SerializationException", "message": str(e)})
    environ = dict(environ)
    environ["PATH_INFO"] = "/"
    environ["CONTENT_TYPE"] = "application/x-amz-json-1.0"
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["HTTP_X_AMZ_TARGET"] = f"{match.group('service')}.{match.group('operation')}"
    environ["wsgi.input"] = io.BytesIO(body)
    answered = {}

    def capture(status, headers, exc_info=None):
        answered["status"], answered["headers"] = status, headers
        return lambda data: None

    chunks = _dispatch(self, environ, capture)
    payload = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    try:
        data = json.loads(payload) if payload.strip() else {}
    except ValueError:
        message = payload.decode(errors="replace")[:200]
        return _cbor_answer(start_response, "500 Internal Server Error", [], {"__type": "InternalFailure", "message": message})
    if answered["status"].startswith("2"):
        operation = _model(service).operation_model(match.group("operation"))
        data = _timestamps(data, operation.output_shape)
    return _cbor_answer(start_response, answered["status"], answered["headers"], data)


def _cbor_answer(start_response, status, headers, data):
    encoded = cbor2.dumps(data, datetime_as_timestamp=True, timezone=datetime.timezone.utc)
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
    headers += [("Content-Type", "application/cbor"), ("Content-Length", str(len(encoded))), ("smithy-protocol", "rpc-v2-cbor")]
    start_response(status, headers)
    return [encoded]


DomainDispatcherApplication.__call__ = _dispatch_rpc_v2

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
