"""The chat session: the one object `chat ask` and the REPL drive.

It owns the config, the providers (one per name, made when first used), the model, the
generation options and their checks, the tools, the context budget, the conversation and its
recorder, and the usage and cost totals. A turn is one call: `session.send(content)` yields the
turn's events; front ends only read input, render the events and pick exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from chatcli.app.inputs import MAX_STDIN
from chatcli.app.provider_state import reset_state, restore_state, save_state
from chatcli.app.roles import apply_role, resumed_role, turn_meta
from chatcli.app.tally import Tally
from chatcli.app.tool_host import ToolHost
from chatcli.config.prices import cost_of
from chatcli.core.context import budget, estimate_messages
from chatcli.core.conversation import Conversation, Turn, finish_notice
from chatcli.core.messages import Event, Usage, content_text
from chatcli.core.options import GenerationOptions
from chatcli.errors import ChatError, UsageError
from chatcli.store.recorder import Recorder, open_store
from chatcli.store.store import QUICK_WAIT, ConversationInfo, Store, StoredMessage

if TYPE_CHECKING:
    from chatcli.app.attachments import Attachment
    from chatcli.config import Config, ProviderConfig
    from chatcli.config.roles import Role
    from chatcli.providers.base import Provider
    from chatcli.tools.registry import ToolRegistry

Content = str | list[dict[str, Any]]


@dataclass
class Outcome:
    """What to tell the user about how a turn ended, beyond the answer itself."""

    message: str
    failed: bool


class ChatSession:
    """One conversation with a model, its settings and its running totals."""

    def __init__(self, cfg: Config, *, provider: str | None = None, model: str | None = None,
                 system: str | None = None, flags: GenerationOptions | None = None, tools: bool = True,
                 stream: bool = True, store: Store | None = None, notify: Callable[[str], None] | None = None,
                 providers: dict[str, Provider] | None = None) -> None:
        self.cfg = cfg
        pcfg = cfg.provider(provider)
        self.provider_name = pcfg.name
        self.model = model or pcfg.model
        self.flags = flags or GenerationOptions()  # the command line's and /think, /search
        self.tools_asked = tools  # False: --no-tools, which a role cannot undo
        self.tools_on = tools and cfg.tools.enabled
        self.role: Role | None = None  # chatcli.app.roles: set by apply_role
        self.stream = stream
        self.notify = notify or (lambda _message: None)
        self.tool_host = ToolHost(cfg, self.notify)  # built-ins and MCP servers; consent (chatcli.app.consent)
        self.store = store or Store.disabled()
        self.conversation = Conversation(system)
        self.recorder = Recorder(self.store, lambda: (self.provider_name, self.model))
        self.recorder.start(self.conversation)
        self.session_tally = Tally()  # every turn of this session, whichever conversation
        self._reset_totals()
        self._providers: dict[str, Provider] = dict(providers or {})  # by name; tests pass fakes here

    # --- what is in use ----------------------------------------------------------------------

    @property
    def provider_config(self) -> ProviderConfig:
        """The provider in use, with the role's assistant_id if it has one."""
        pcfg = self.cfg.providers[self.provider_name]
        assistant = self.role.assistant_id if self.role is not None else None
        return replace(pcfg, assistant_id=assistant) if assistant else pcfg

    def provider(self) -> Provider:
        """The provider in use, made on first use and kept for the session (one per role's assistant)."""
        pcfg = self.provider_config
        key = f"{pcfg.name}@{self.role.assistant_id}" if self.role and self.role.assistant_id else pcfg.name
        if key not in self._providers:
            from chatcli.providers import create_provider

            self._providers[key] = create_provider(pcfg, notify=self.notify)
        return self._providers[key]

    def generation(self) -> GenerationOptions:
        """The provider's config defaults with the flags laid over them, checked (UsageError if refused)."""
        options = GenerationOptions.from_config(self.provider_config)
        if self.role is not None:  # a role's options: over the provider's, under the flags
            options = options.merged(GenerationOptions.from_config(self.role))
        options = options.merged(self.flags).validate(stream=self.stream)
        self.provider().check_options(options)
        return options

    def tools(self) -> ToolRegistry | None:
        """The tools offered with this model (MCP servers start the first time), or None."""
        return self.tool_host.registry(self.model, self.tools_on)

    def budget(self) -> int:
        """Tokens a request's messages may carry (less what the MCP tools' schemas take, once offered)."""
        return max(1, budget(self.model, self.cfg.context.max_tokens) - self.tool_host.schema_tokens)

    def context_used(self) -> int:
        """Tokens the conversation takes now: the last reported figure, or the estimate if larger."""
        return max(self.last_prompt_tokens, estimate_messages(self.conversation.messages))

    @property
    def last(self) -> Turn | None:
        """The last turn sent, if any."""
        return self.conversation.last

    @property
    def conversation_id(self) -> str | None:
        return self.recorder.conversation_id

    def key_problem(self) -> str | None:
        """Why the provider in use has no usable API key, in one line; None if it has one or needs none.

        Nothing is sent and api_key_cmd is not run (it may ask for a passphrase): a key from a command
        is taken to be fine until the first message needs it.
        """
        from chatcli.config.lines import dotted

        pcfg = self.provider_config
        status = pcfg.key_status()
        if status == "missing":
            return (f"no API key for {pcfg.name}: set {pcfg.api_key_env} or "
                    f"{dotted(('providers', pcfg.name, 'api_key_cmd'))}")
        if status == "set":
            try:
                pcfg.resolve_api_key()  # checks the key can go into a header, and never shows it
            except ChatError as e:
                return e.message
        return None

    def image_problem(self) -> str | None:
        """A warning if the catalog says the model in use reads no images (None if it does or is unknown)."""
        from chatcli.providers.catalog import DEFAULT, family

        found = family(self.model)
        if found is DEFAULT or found.vision:
            return None
        pcfg = self.provider_config
        vision = next((m for m in dict.fromkeys([pcfg.model, *pcfg.models]) if family(m).vision), None)
        hint = f"; switch with /model {vision}" if vision else "; switch to a vision model with /model"
        return f"{self.model} cannot read images{hint}"

    # --- a turn ----------------------------------------------------------------------------

    def check(self) -> GenerationOptions:
        """The generation options a turn would use; a ChatError now for what would stop it before it is sent."""
        return self.generation()

    def content(self, text: str, attachments: Sequence[Attachment], *, text_budget: int = MAX_STDIN) -> Content:
        """The user message: text with the attachments, checked against the provider and uploaded."""
        if not attachments:
            return text
        from chatcli.app.attachments import build_content

        return build_content(text, attachments, self.provider(), self.model, text_budget=text_budget)

    def send(self, content: Content) -> Iterator[Event]:
        """Send one user message; yield the turn's events. Options are checked before anything is saved."""
        provider, generation = self.provider(), self.generation()
        return self._turn(provider, generation, content)

    def _turn(self, provider: Provider, generation: GenerationOptions, content: Content) -> Iterator[Event]:
        events = self.conversation.send(provider, self.model, content, tools=self.tools(),
                                        max_rounds=self.cfg.tools.max_rounds, stream=self.stream,
                                        budget=self.budget(), generation=generation, meta=turn_meta(self))
        try:
            yield from events
        finally:
            self._account()
            save_state(self.store, self.conversation_id, self.provider_name, provider)

    def _reset_totals(self) -> None:
        """The conversation's tally starts from zero (a new or loaded one); the session's goes on."""
        self.tally = Tally()
        self.last_prompt_tokens = 0

    @property
    def totals(self) -> Usage:
        """Tokens used in this conversation."""
        return self.tally.usage

    @property
    def requests(self) -> int:
        """Requests made in this conversation (each tool round is one)."""
        return self.tally.requests

    @property
    def cost(self) -> float | None:
        """What this conversation's priced answers cost; None if none had a price."""
        return self.tally.cost

    def _account(self) -> None:
        turn = self.last
        if turn is None:
            return
        usage = turn.usage if turn.last_usage is not None else None
        amount = self.turn_cost(turn) if usage is not None else None
        for tally in (self.tally, self.session_tally):
            tally.add(turn.rounds + 1, usage, amount)
        if usage is not None and turn.last_usage is not None:
            self.last_prompt_tokens = turn.last_usage.prompt_tokens + turn.last_usage.completion_tokens

    def turn_cost(self, turn: Turn | None = None) -> float | None:
        """What a turn (default: the last) cost, if [prices] has the model."""
        turn = turn or self.last
        return cost_of(self.cfg.prices, self.model, turn.usage if turn else None)

    def outcome(self, turn: Turn | None = None) -> Outcome | None:
        """How a finished turn ended, if the user should hear of it (cut off, filtered, ...)."""
        turn = turn or self.last
        found = finish_notice(turn.finish_reason) if turn else None
        return Outcome(*found) if found else None

    def retry(self) -> Iterator[Event]:
        """Drop the last turn and send its message again (with its attachments)."""
        i = self.conversation.last_user_index()
        if i is None:
            raise UsageError("nothing to retry")
        content = self.conversation.messages[i].content or ""
        self.check()  # refused options leave the turn where it was
        self.undo()
        return self.send(content)

    # --- changing the session ------------------------------------------------------------

    def switch_provider(self, name: str) -> None:
        """Use another provider and its default model; the conversation carries over (ConfigError if unknown)."""
        pcfg = self.cfg.provider(name)
        self.provider_name, self.model = pcfg.name, pcfg.model

    def switch_model(self, model: str) -> None:
        self.model = model

    def set_flag(self, name: Literal["search", "think"], on: bool | None) -> None:
        """Turn web search or thinking on or off; ChatError now if the provider would refuse it.

        The provider's own check, the one every send makes, decides. A refusal that goes away with the
        flag unset is this flag's: it raises and leaves the flags as they were. One that stays is not
        (other options): the change is made and the next send reports it.
        """
        changed, unset = replace(self.flags), replace(self.flags)
        setattr(changed, name, on)
        setattr(unset, name, None)
        try:
            self._check_flags(changed)
        except ChatError:
            try:
                self._check_flags(unset)
            except ChatError:
                pass  # refused without this flag too
            else:
                raise
        self.flags = changed

    def _check_flags(self, flags: GenerationOptions) -> None:
        """check() as it would go with these flags."""
        kept, self.flags = self.flags, flags
        try:
            self.check()
        finally:
            self.flags = kept

    def rename(self, title: str) -> str:
        """Give the saved conversation a title; the title as kept (StoreError or UsageError if it cannot be)."""
        cid = self.conversation_id
        if cid is None:
            raise UsageError("no conversation to rename")
        return self.store.rename(cid, title)

    def export_markdown(self) -> str:
        """This conversation as `chat sessions export` writes it (UsageError if it has no messages yet)."""
        from chatcli.store.export import to_markdown

        if all(m.role == "system" for m in self.conversation.messages):
            raise UsageError("nothing to export yet")
        cid = self.conversation_id or ""
        self.store.flush(QUICK_WAIT)  # what is pending, if the lock allows
        if self.store.enabled:
            try:
                return self.store.export(cid, "md", self.role.bot_name if self.role else None)
            except UsageError:  # not saved (yet): from memory below
                pass
        return to_markdown(*self._unsaved_records(cid), self.role.bot_name if self.role else None)

    def _unsaved_records(self, cid: str) -> tuple[ConversationInfo, list[StoredMessage]]:
        """The conversation in memory as the store would give it (no per-message times or usage)."""
        import time

        from chatcli.store.titles import make_title

        now = time.time()
        messages = [m for m in self.conversation.messages if m.role != "system"]
        first = next((m for m in messages if m.role == "user"), None)
        title = make_title(content_text(first.content)) if first else ""
        info = ConversationInfo(cid, title, now, now, self.provider_name, self.model, self.system, len(messages),
                                self.role.name if self.role else None)
        model = self.model
        records = [StoredMessage(i, m, now, model=model if m.role == "assistant" else None)
                   for i, m in enumerate(messages, 1)]
        return info, records

    @property
    def system(self) -> str | None:
        return self.conversation.system

    @system.setter
    def system(self, text: str | None) -> None:
        self.conversation.system = text
        self.recorder.sync_system(self.conversation)

    def clear(self) -> None:
        """Start a new conversation, keeping the system prompt."""
        self.conversation.clear()
        reset_state(self._providers.values())  # e.g. a Zhipu assistant starts a new conversation too
        self.recorder.start(self.conversation)
        self._reset_totals()

    def undo(self) -> str | None:
        """Drop the last turn, here and in the store; its text, or None if there was none."""
        text = self.conversation.undo()
        if text is not None:
            self.recorder.truncated(self.conversation)
        return text

    def resume(self, ref: str | None) -> ConversationInfo:
        """Continue a saved conversation (the last when ref is None) with the provider and model it used."""
        cid = self.store.resolve(ref) if ref else self.store.last_id()
        if cid is None:
            raise UsageError("no saved conversation to continue yet")
        info = self.store.info(cid)
        conversation = Conversation(info.system)
        conversation.messages.extend(self.store.messages(cid))
        if info.provider in self.cfg.providers:
            self.provider_name = info.provider
            self.model = info.model or self.provider_config.model
        self.conversation = conversation
        self.recorder.start(conversation, info.id)
        self._reset_totals()
        resumed_role(self, info.role)
        restore_state(info.extra, self.provider_name, self._providers, self.provider)
        return info

    def close(self) -> None:
        self.tool_host.close()  # never raises
        self.store.close()


def open_session(cfg: Config, *, provider: str | None = None, model: str | None = None,
                 system: str | None = None, resume: str | None = None, save: bool = True,
                 notify: Callable[[str], None] | None = None, role: str | None = None,
                 **options: Any) -> tuple[ChatSession, ConversationInfo | None]:
    """A session as the command line asks for it: resume is an id prefix, "" for the last one, or None.

    Flags given now win over a role (ConfigError if unknown) and over what a resumed conversation last used.
    """
    warn = notify or (lambda _message: None)
    chosen = cfg.role(role) if role else None  # an unknown one stops here
    session = ChatSession(cfg, provider=provider, model=model, system=system,
                          store=open_store(cfg, save, warn), notify=notify, **options)
    info = None
    if resume is not None:
        try:
            info = session.resume(resume or None)
        except BaseException:
            session.close()
            raise
        if provider:
            session.switch_provider(provider)
        if model:
            session.model = model
        if system:
            session.system = system
    if chosen is not None:
        apply_role(session, chosen, provider=provider, model=model, system=system)
    return session, info
