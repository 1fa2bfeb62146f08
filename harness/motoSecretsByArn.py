"""moto's server, with two Secrets Manager gaps filled the way AWS behaves.

1. Calls are authorized against the secret's ARN. moto 5.2.6 checks an identity policy's Resource only for services that name one (S3, IAM, STS, SQS); every
other call is checked against "*", so a policy that allows GetSecretValue on one secret's ARN -- the node
policy secure-etcd renders -- is refused even for that secret. AWS authorizes a Secrets Manager call
against the ARN of the secret named by SecretId (name, full or partial ARN); this resolves it the same way
and leaves everything else to moto.

2. UpdateSecretVersionStage moving AWSCURRENT moves what GetSecretValue reads. moto moves the label but
keeps answering GetSecretValue (no VersionId) from the version it last wrote (default_version_id), so a
rollback by re-staging an old version would never reach a reader.

Started by harness/moto.ts (secretsByArn); moto's arguments pass through.
"""

import sys

from moto.secretsmanager.models import SecretsManagerBackend
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import main
from moto.utilities.utils import get_partition


def _determine_resource(self):
    secret_id = self._get_param("SecretId")
    if not secret_id:
        return "*"
    secret = self.backend.secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    partition = get_partition(self.region)
    return f"arn:{partition}:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"


_update_secret_version_stage = SecretsManagerBackend.update_secret_version_stage


def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    result = _update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    )
    if version_stage == "AWSCURRENT" and move_to_version_id:
        self.secrets[secret_id].set_default_version_id(move_to_version_id)
    return result


SecretsManagerResponse._determine_resource = _determine_resource
SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage
sys.exit(main())
