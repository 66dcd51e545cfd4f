# Makes an unchanged AWS SDK handler (boto3.client('s3')) use the instance's identity and reach
# Kumo. The shim installs it in instances that have an identity (AWS_ENDPOINT_URL is set);
# it imports nothing of botocore itself: a finder waits for botocore's own import and then
# adjusts two things, only where botocore does not do them already.
#
# 1. Endpoints. botocore from 1.31.61 reads AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL;
#    older ones (Debian 12 has 1.29) ignore them and would call AWS. There, a client created
#    without an endpoint_url gets the one those variables name.
# 2. Credentials that follow the instance. Kumo gives every instance a key of its own, and an
#    instance forked from a zygote template gets its environment after the template's init
#    ran, so a client made during init (a module-level `s3 = boto3.client('s3')`) would keep
#    signing with the template's key. Credentials found in the environment are read from it
#    at each use instead.
import os
import sys

_ENDPOINT_AWARE = "ignore_configured_endpoint_urls"


def _endpoint_for(service_name):
    service = str(service_name).upper().replace("-", "_").replace(" ", "_")
    return os.environ.get("AWS_ENDPOINT_URL_" + service) or os.environ.get("AWS_ENDPOINT_URL")


def _patch_session(module):
    import botocore.configprovider as config

    if _ENDPOINT_AWARE in getattr(config, "BOTOCORE_DEFAUT_SESSION_VARIABLES", {}):
        return  # botocore reads the variables itself
    original = module.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        # endpoint_url is the sixth parameter; a caller that passed it positionally chose.
        if len(args) < 5 and kwargs.get("endpoint_url") is None:
            url = _endpoint_for(service_name)
            if url:
                kwargs["endpoint_url"] = url
        return original(self, service_name, *args, **kwargs)

    create_client.__doc__ = original.__doc__
    module.Session.create_client = create_client


def _patch_credentials(module):
    base = module.Credentials
    names = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY",
             "token": "AWS_SESSION_TOKEN"}

    def live(variable):
        return property(lambda self: os.environ.get(variable) or None,
                        lambda self, value: None)

    # The environment's credentials, read at each use.
    InstanceCredentials = type("InstanceCredentials", (base,),
                               {attr: live(var) for attr, var in names.items()})
    original = module.EnvProvider.load

    def load(self):
        found = original(self)
        if type(found) is base and self.environ is os.environ:
            return InstanceCredentials(None, None, None, method=found.method)
        return found

    module.EnvProvider.load = load


_PATCHES = {"botocore.session": _patch_session, "botocore.credentials": _patch_credentials}


class _Finder:
    """Runs a patch right after its module is first imported; finds nothing itself."""

    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def run_then_patch(module):
            exec_module(module)
            try:
                patch(module)
            except Exception as error:  # an unexpected botocore: leave it as it is
                sys.stderr.write(f"kumo: cannot adapt {name}: {error}\n")

        spec.loader.exec_module = run_then_patch
        return spec


def install():
    """Adapts botocore when it is imported (or now, if it already is)."""
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
