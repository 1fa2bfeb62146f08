"""moto's server, with Secrets Manager calls authorized against the secret's ARN.

moto 5.2.6 checks an identity policy's Resource only for services that name one (S3, IAM, STS, SQS); every
other call is checked against "*", so a policy that allows GetSecretValue on one secret's ARN -- the node
policy secure-etcd renders -- is refused even for that secret. AWS authorizes a Secrets Manager call
against the ARN of the secret named by SecretId (name, full or partial ARN); this resolves it the same way
and leaves everything else to moto. Started by harness/moto.ts (secretsByArn); moto's arguments pass through.
"""

import sys

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


SecretsManagerResponse._determine_resource = _determine_resource
sys.exit(main())
