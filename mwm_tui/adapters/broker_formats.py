"""The files each broker reads, as text: Mosquitto's ACL and password file, ActiveMQ's XML,
JAAS and properties files, and a RabbitMQ script of ``rabbitmqctl`` commands.

Built from the accounts of ``domain/fleet_access.py``; every id is quoted for the format it
lands in (XML attributes, Java properties, regular expressions, shell words).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from mwm_tui.domain.fleet_access import Account, Kind, StompDestination

from .stomp_advisories import ADVISORY_SUBSCRIPTION

# JAAS groups: every truck, HQ, and one per truck (no id holds '.', so none is another's).
DEVICES_GROUP = "fleet-devices"
HQ_GROUP = "fleet-hq"
JAAS_REALM = "mwm-fleet"
_ADVISORY_READ = StompDestination.of(ADVISORY_SUBSCRIPTION)
# Connections and consumers make ActiveMQ create its advisory topics in the client's name.
_ADVISORIES = StompDestination(Kind.TOPIC, "ActiveMQ.Advisory.>")


def device_group(name: str) -> str:
    return f"device.{name}"


@dataclass(frozen=True, slots=True)
class Listener:
    """Where a broker listens and, with TLS, the certificate files as that broker reads them."""

    bind: str
    port: int
    certfile: str | None = None
    keyfile: str | None = None

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    def host_port(self) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"{host}:{self.port}"


# Mosquitto


def mosquitto_passwords(hashes: Mapping[str, str]) -> str:
    """``user:$7$...`` lines, one per account."""
    return "".join(f"{name}:{hashed}\n" for name, hashed in hashes.items())


def mosquitto_acl(accounts: Sequence[Account]) -> str:
    """Per-account topic rules; anything not granted here is refused, anonymous clients all."""
    lines = [
        "# Each account may use only the topics listed under it. Mosquitto checks publishes",
        "# and every message it delivers against these rules.",
    ]
    for account in accounts:
        rights = account.rights
        lines += ["", f"user {account.name}"]
        lines += [f"topic write {topic}" for topic in rights.mqtt_publish]
        lines += [f"topic read {topic}" for topic in rights.mqtt_subscribe]
    return "\n".join(lines) + "\n"


def mosquitto_conf(
    listener: Listener,
    directory: str,
    *,
    run_as: str | None,
) -> str:
    """A whole mosquitto.conf: one listener, passwords, ACL, sessions kept in ``directory``."""
    lines = [
        "# Mosquitto for a locked-down mwm fleet: start with  mosquitto -c THIS_FILE",
        "per_listener_settings false",
        f"listener {listener.port} {listener.bind}",
    ]
    if listener.certfile is not None and listener.keyfile is not None:
        lines += [
            f"certfile {listener.certfile}",
            f"keyfile {listener.keyfile}",
            "require_certificate false",
        ]
    lines += [
        "allow_anonymous false",
        f"password_file {directory}/passwords",
        f"acl_file {directory}/acl",
        # Alerts and wills wait for their reader across a broker restart.
        "persistence true",
        f"persistence_location {directory}/",
        # HQ over many trucks must not have its motion silently thinned out.
        "max_queued_messages 0",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
    ]
    if run_as is not None:
        # As root Mosquitto becomes this user before it reads the password and ACL files.
        lines.append(f"user {run_as}")
    return "\n".join(lines) + "\n"


# ActiveMQ


def _properties_text(text: str) -> str:
    """``text`` as a Java properties key or value read as ISO-8859-1 (as ActiveMQ reads them)."""
    out = []
    for char in text:
        if char in "\\:=#! ":
            out.append("\\" + char)
        elif " " < char <= "~":
            out.append(char)
        else:
            out.extend(f"\\u{unit:04x}" for unit in _utf16_units(char))
    return "".join(out)


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def activemq_users(passwords: Mapping[str, str]) -> str:
    lines = ["# JAAS PropertiesLoginModule: user=password (ActiveMQ 5 reads them in clear)."]
    lines += [f"{_properties_text(n)}={_properties_text(p)}" for n, p in passwords.items()]
    return "\n".join(lines) + "\n"


def activemq_groups(accounts: Sequence[Account]) -> str:
    hq = [account.name for account in accounts if account.is_hq]
    devices = [account.name for account in accounts if not account.is_hq]
    lines = [
        "# JAAS PropertiesLoginModule: group=user,user",
        f"{HQ_GROUP}={','.join(_properties_text(name) for name in hq)}",
        f"{DEVICES_GROUP}={','.join(_properties_text(name) for name in devices)}",
    ]
    lines += [
        f"{_properties_text(device_group(name))}={_properties_text(name)}" for name in devices
    ]
    return "\n".join(lines) + "\n"


def activemq_login_config() -> str:
    return (
        f"{JAAS_REALM} {{\n"
        "    org.apache.activemq.jaas.PropertiesLoginModule required\n"
        '        org.apache.activemq.jaas.properties.user="users.properties"\n'
        '        org.apache.activemq.jaas.properties.group="groups.properties";\n'
        "};\n"
    )


def _entry(
    destination: StompDestination, *, read: str = "", write: str = "", admin: str = ""
) -> str:
    granted = [("read", read), ("write", write), ("admin", admin)]
    attributes = " ".join(f"{name}={quoteattr(value)}" for name, value in granted if value)
    return (
        f"<authorizationEntry {destination.kind.value}={quoteattr(destination.name)} {attributes}/>"
    )


def activemq_authorization(accounts: Sequence[Account]) -> list[str]:
    """authorizationEntry elements: ActiveMQ refuses what none of them grants.

    Subscribing or sending creates the destination, which needs ``admin`` on it too.
    """
    entries = [
        _entry(_ADVISORIES, admin=f"{HQ_GROUP},{DEVICES_GROUP}"),
        _entry(_ADVISORY_READ, read=HQ_GROUP, admin=HQ_GROUP),
    ]
    for account in accounts:
        group = HQ_GROUP if account.is_hq else device_group(account.name)
        rights = account.rights
        entries += [_entry(d, read=group, admin=group) for d in rights.stomp_subscribe]
        entries += [_entry(d, write=group, admin=group) for d in rights.stomp_send]
    return entries


def activemq_xml(
    accounts: Sequence[Account],
    listener: Listener,
    data_dir: str,
    keystore: tuple[str, str] | None = None,
) -> str:
    """A whole activemq.xml: one STOMP connector, JAAS logins, an entry per account's right.

    ``keystore``: the PKCS12 file and its password, for a TLS connector."""
    scheme = "stomp" if keystore is None else "stomp+ssl"
    # ActiveMQ's default heart-beat grace is 1.0 x: punctual clients drop on jitter.
    uri = f"{scheme}://{listener.host_port()}?transport.hbGracePeriodMultiplier=1.5"
    ssl_context = ""
    if keystore is not None:
        path, password = keystore
        ssl_context = (
            f"\n    <sslContext><sslContext keyStore={quoteattr('file:' + path)} "
            f'keyStorePassword={quoteattr(password)} keyStoreType="PKCS12"/></sslContext>'
        )
    entries = "\n              ".join(activemq_authorization(accounts))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- ActiveMQ for a locked-down mwm fleet: every client logs in (login.config, users and
     groups properties); each account may use only the destinations granted below. -->
<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans \
http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="mwm-fleet"
          persistent="true" useJmx="false" dataDirectory={quoteattr(data_dir)}>
    <persistenceAdapter>
      <kahaDB directory={quoteattr(data_dir + "/kahadb")}/>
    </persistenceAdapter>
    <plugins>
      <jaasAuthenticationPlugin configuration="{JAAS_REALM}"/>
      <authorizationPlugin>
        <map>
          <authorizationMap>
            <authorizationEntries>
              {entries}
            </authorizationEntries>
          </authorizationMap>
        </map>
      </authorizationPlugin>
    </plugins>{ssl_context}
    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <policyEntry topic="&gt;" producerFlowControl="true" memoryLimit="16 mb"/>
        </policyEntries>
      </policyMap>
    </destinationPolicy>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="64 mb"/></memoryUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri={quoteattr(uri)}/>
    </transportConnectors>
  </broker>
</beans>
"""


def activemq_log4j(log_file: str) -> str:
    return (
        "log4j.rootLogger=INFO, file\n"
        "log4j.logger.org.apache.activemq.spring=WARN\n"
        "log4j.logger.org.springframework=WARN\n"
        "log4j.logger.org.apache.xbean=WARN\n"
        "log4j.appender.file=org.apache.log4j.FileAppender\n"
        f"log4j.appender.file.File={_properties_text(log_file)}\n"
        "log4j.appender.file.Append=true\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c - %m%n\n"
    )


# RabbitMQ


def _regex_literal(text: str) -> str:
    """``text`` matched literally by an Erlang (PCRE) regular expression."""
    return "".join(f"\\{char}" if char.isascii() and not char.isalnum() else char for char in text)


def _any_of(*alternatives: str) -> str:
    return f"^({'|'.join(alternatives)})$"


def _routing_key(destination: StompDestination) -> str:
    return _regex_literal(destination.name).replace(r"\*", "[^.]+")


def _mqtt_key(topic: str) -> str:
    """The regular expression of the routing key RabbitMQ's MQTT plugin gives ``topic``."""
    return _regex_literal(topic.replace("/", ".")).replace(r"\+", "[^.]+")


def rabbitmq_permissions(account: Account) -> tuple[list[str], list[str]]:
    """``set_permissions`` (configure, write, read) and ``set_topic_permissions`` (write, read).

    STOMP subscriptions to topics and MQTT subscriptions are queues the plugins declare and
    bind to ``amq.topic``; a truck's MQTT queue carries its client id, which must be its name.
    """
    rights = account.rights
    if account.is_hq:
        subscriptions = ["mqtt-subscription-.*", "stomp-subscription-.*"]
    else:
        subscriptions = [f"mqtt-subscription-{_regex_literal(account.name)}qos[012]"]
    read_queues = [_regex_literal(d.name) for d in rights.stomp_subscribe if d.kind is Kind.QUEUE]
    # A SEND to /queue/NAME declares NAME, then goes through the default exchange.
    sent_queues = [_routing_key(d) for d in rights.stomp_send if d.kind is Kind.QUEUE]
    exchanges = [r"amq\.topic"] + ([r"amq\.default"] if sent_queues else [])
    resource = [
        _any_of(*subscriptions, *read_queues, *sent_queues),
        _any_of(*exchanges, *subscriptions),
        _any_of(r"amq\.topic", *subscriptions, *read_queues),
    ]
    write_keys = [_routing_key(d) for d in rights.stomp_send if d.kind is Kind.TOPIC]
    write_keys += [_mqtt_key(topic) for topic in rights.mqtt_publish]
    read_keys = [_routing_key(d) for d in rights.stomp_subscribe if d.kind is Kind.TOPIC]
    read_keys += [_mqtt_key(topic) for topic in rights.mqtt_subscribe]
    if account.is_hq:
        # HQ asks every broker for ActiveMQ's advisories; RabbitMQ has none to send, and
        # refusing the subscription would close HQ's first connection.
        read_keys.append(_regex_literal(_ADVISORY_READ.name))
    return resource, [_any_of(*write_keys), _any_of(*read_keys)]


def rabbitmq_script(passwords: Mapping[str, str], accounts: Sequence[Account]) -> str:
    """A shell script of ``rabbitmqctl`` commands: the accounts, then what each may do."""
    lines = [
        "#!/bin/sh",
        "# Accounts and permissions of a locked-down mwm fleet on RabbitMQ (rabbitmq_stomp and",
        "# rabbitmq_mqtt). It holds every password: run it once, then delete it.",
        '# RABBITMQCTL="rabbitmqctl -n NODE" picks another node; MWM_VHOST another vhost.',
        "set -eu",
        'ctl() { ${RABBITMQCTL:-rabbitmqctl} "$@"; }',
        'vhost="${MWM_VHOST:-/}"',
        "# Anonymous STOMP and MQTT clients log in as guest: without it they get nothing.",
        "ctl delete_user guest 2>/dev/null || true",
    ]
    for account in accounts:
        name = shlex.quote(account.name)
        resource, topic = rabbitmq_permissions(account)
        lines += [
            f"ctl add_user {name} {shlex.quote(passwords[account.name])}",
            f'ctl set_permissions -p "$vhost" {name} {" ".join(map(shlex.quote, resource))}',
            f'ctl set_topic_permissions -p "$vhost" {name} amq.topic '
            + " ".join(map(shlex.quote, topic)),
        ]
    return "\n".join(lines) + "\n"
