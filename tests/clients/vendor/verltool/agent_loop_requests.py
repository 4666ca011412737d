# mypy: ignore-errors
# Vendored from VerlTool (https://github.com/TIGER-AI-Lab/verl-tool, MIT licence: see
# LICENSE beside this file), commit 980962b, verl_tool/agent_loop/verltool_agent_loop.py:
# the code with which VerlTool's agent loop talks to its tool server (the aiohttp
# session and trace hooks, sanitize_request, _aiohttp_request, send_batch_requests_async,
# interact_with_tool_server), verbatim but for: the imports it needs only, `regex` as the
# standard `re` (same pattern), sanitize_request's numpy/PIL branches dropped (no arrays
# or images are sent here), and the methods held by `ToolServerClient` (a stand-in for
# VerlToolAgentLoop holding `agent_config`) instead of the agent loop.
import asyncio
import json
import logging
import os
import re
import socket
import time
import uuid
from typing import Any, Dict

import aiohttp

logger = logging.getLogger(__name__)
MAX_OBS_LENGTH = 100000

CONTROL_CHAR_RE = re.compile(
    # this matches U+0000 through U+001F, excluding tab(09), LF(0A), CR(0D)
    r'[\x00-\x08\x0B\x0C\x0E-\x1F]'
)
MAX_OBS_LENGTH = 100000  # maximum observation length to send back to the tool server

async def on_connection_queued_start(session, trace_config_ctx, params):
    if hasattr(trace_config_ctx, 'trace_request_ctx') and trace_config_ctx.trace_request_ctx is not None:
        trace_config_ctx.trace_request_ctx['queued_start'] = asyncio.get_event_loop().time()

async def on_connection_queued_end(session, trace_config_ctx, params):
    if hasattr(trace_config_ctx, 'trace_request_ctx') and trace_config_ctx.trace_request_ctx is not None:
        if 'queued_start' in trace_config_ctx.trace_request_ctx:
            trace_config_ctx.trace_request_ctx['queued_duration'] = asyncio.get_event_loop().time() - trace_config_ctx.trace_request_ctx['queued_start']

async def on_connection_create_start(session, trace_config_ctx, params):
    if hasattr(trace_config_ctx, 'trace_request_ctx') and trace_config_ctx.trace_request_ctx is not None:
        trace_config_ctx.trace_request_ctx['create_start'] = asyncio.get_event_loop().time()

async def on_connection_create_end(session, trace_config_ctx, params):
    if hasattr(trace_config_ctx, 'trace_request_ctx') and trace_config_ctx.trace_request_ctx is not None:
        if 'create_start' in trace_config_ctx.trace_request_ctx:
            trace_config_ctx.trace_request_ctx['create_duration'] = asyncio.get_event_loop().time() - trace_config_ctx.trace_request_ctx['create_start']

async def on_request_start(session, trace_config_ctx, params):
    if hasattr(trace_config_ctx, 'trace_request_ctx') and trace_config_ctx.trace_request_ctx is not None:
        trace_config_ctx.trace_request_ctx['request_start'] = asyncio.get_event_loop().time()

async def on_request_end(session, trace_config_ctx, params):
    if hasattr(trace_config_ctx, 'trace_request_ctx') and trace_config_ctx.trace_request_ctx is not None:
        if 'request_start' in trace_config_ctx.trace_request_ctx:
            trace_config_ctx.trace_request_ctx['request_duration'] = asyncio.get_event_loop().time() - trace_config_ctx.trace_request_ctx['request_start']
def sanitize_request(obj: Any) -> Any:
    """
    Recursively walk through obj and:
      - For dicts: sanitize each value
      - For lists/tuples: sanitize each element
      - For strings: remove embedded nulls (and other control chars)
      - Leave other types untouched
    """
    if isinstance(obj, dict):
        return {sanitize_request(key): sanitize_request(val) for key, val in obj.items()}
    elif isinstance(obj, (list, tuple)):
        return type(obj)(sanitize_request(item) for item in obj)
    elif isinstance(obj, str):
        # strip NUL (\x00) and other C0 control chars
        return CONTROL_CHAR_RE.sub('', obj)
    else:
        return obj


class _AgentConfig:
    def __init__(self, tool_server_url, tool_call_timeout=60, tool_call_max_retries=0):
        self.tool_server_url = tool_server_url
        self.tool_call_timeout = tool_call_timeout
        self.tool_call_max_retries = tool_call_max_retries


class ToolServerClient:
    _session: aiohttp.ClientSession | None = None
    _session_lock = asyncio.Lock()
    session_limit = 100

    def __init__(self, tool_server_url: str):
        self.agent_config = _AgentConfig(tool_server_url)

    @classmethod
    async def get_session(cls, timeout_seconds: float) -> aiohttp.ClientSession:
        # Double-checked locking for lazy init
        if cls._session is None or cls._session.closed:
            async with cls._session_lock:
                if cls._session is None or cls._session.closed:
                    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
                    
                    trace_config = aiohttp.TraceConfig()
                    trace_config.on_connection_queued_start.append(on_connection_queued_start)
                    trace_config.on_connection_queued_end.append(on_connection_queued_end)
                    trace_config.on_connection_create_start.append(on_connection_create_start)
                    trace_config.on_connection_create_end.append(on_connection_create_end)
                    trace_config.on_request_start.append(on_request_start)
                    trace_config.on_request_end.append(on_request_end)
                    
                    cls._session = aiohttp.ClientSession(
                        timeout=timeout,
                        connector=aiohttp.TCPConnector(
                            limit=cls.session_limit,
                            limit_per_host=cls.session_limit,
                            ttl_dns_cache=300,
                            family=socket.AF_INET,
                        ),
                        trace_configs=[trace_config]
                    )
                    logging.info(f"Created shared aiohttp ClientSession for AgentLoopWorker with limit={cls.session_limit}")
        return cls._session

    @classmethod
    async def aclose_session(cls):
        if cls._session is not None and not cls._session.closed:
            await cls._session.close()
            cls._session = None
            logging.info("Closed shared aiohttp ClientSession for AgentLoopWorker")

    async def _aiohttp_request(self, payload: dict):
        max_retries = self.agent_config.tool_call_max_retries
        timeout_seconds = self.agent_config.tool_call_timeout

        session_request_time = 0
        session = await self.get_session(timeout_seconds)
        
        start_time = time.time()
        for attempt in range(max_retries + 1):
            try:
                trace_ctx = {}
                async with session.post(
                    url=self.agent_config.tool_server_url,
                    json=payload,
                    trace_request_ctx=trace_ctx
                ) as resp:
                    resp_start_time = time.time()
                    resp.raise_for_status()
                    
                    # Measure response read time and size
                    read_start = time.time()
                    resp_data = await resp.json()
                    read_duration = time.time() - read_start
                    
                    # Calculate approximate response size
                    try:
                        resp_size = len(json.dumps(resp_data))
                    except:
                        resp_size = 0
                        
                    resp_end_time = time.time()
                    resp_data['time awaiting response_ms'] = (resp_end_time - resp_start_time) * 1000.0
                    resp_data['success'] = True
                    resp_data['client_queued_ms'] = trace_ctx.get('queued_duration', 0.0) * 1000.0
                    resp_data['client_conn_create_ms'] = trace_ctx.get('create_duration', 0.0) * 1000.0
                    resp_data['client_request_send_ms'] = trace_ctx.get('request_duration', 0.0) * 1000.0
                    resp_data['request_start_ms'] = trace_ctx.get('request_start', 0.0) * 1000.0
                    resp_data['response_read_ms'] = read_duration * 1000.0
                    resp_data['response_size_mb'] = resp_size / (1024 * 1024)
                    resp_data['X-Process-Time'] = float(resp.headers.get('X-Process-Time', '0.0'))
                    
                    if resp_data['response_size_mb'] > 1.0:
                        logging.warning(f"Large response received: {resp_data['response_size_mb']:.2f} MB. Read time: {read_duration:.2f}s")
                    break

            except asyncio.TimeoutError as e:
                logging.error(
                    f"Attempt {attempt + 1} failed due to timeout: {e}. "
                    f"traj_id: {payload.get('trajectory_ids', [])}. Retrying..."
                )
                resp_data = {"observations": [f"Tool call timeout after {timeout_seconds} seconds."], "dones": [1], "valids": [0], "processing_time_ms": timeout_seconds * 1000.0, "success": False}

            except aiohttp.ClientConnectorError as e:
                logging.error(
                    f"Attempt {attempt + 1} failed to connect to tool server: {e}. "
                    f"traj_id: {payload.get('trajectory_ids', [])}. Retrying..."
                )
                resp_data = {"observations": [f"Tool server connection error: {e}."], "dones": [1], "valids": [0], "processing_time_ms": 0.0, "success": False}

            except Exception as e:
                logging.error(
                    f"Attempt {attempt + 1} failed with error: {e}. "
                    f"traj_id: {payload.get('trajectory_ids', [])}. Retrying..."
                )
                resp_data = {"observations": [f"Tool call error: {e}."], "dones": [1], "valids": [0], "processing_time_ms": 0.0, "success": False}
            # if attempt == max_retries:
            #     raise
            await asyncio.sleep(1)
        session_request_time = time.time() - start_time
        resp_data['session_request_time'] = session_request_time
        resp_data['time awaiting response_ms'] = resp_data.get('time awaiting response_ms', 0.0)
        return resp_data
        
                
    async def send_batch_requests_async(self, batch_data: Dict[str, Any]) -> Dict[str, Any]:
        """Robust version with retry logic"""
        safe_payload = sanitize_request(batch_data)
        
        # Debug: Check payload size
        try:
            json_str = json.dumps(safe_payload)
            payload_size_mb = len(json_str) / (1024 * 1024)
            if payload_size_mb > 1.0:
                logger.warning(f"Large payload detected: {payload_size_mb:.2f} MB")
        except Exception:
            pass

        try:
            return await self._aiohttp_request(safe_payload)
        except Exception as e:
            # Log error with context
            logging.error(f"Failed to send batch request after all retries: {e}")
            logging.error(f"Payload size: {len(str(safe_payload))} chars")
            
            # Save error data for debugging
            if not os.path.exists('tmp'):
                os.mkdir('tmp')  # Ensure tmp directory exists
            error_file = f"tmp/error_data_{uuid.uuid4().hex[:8]}.json"
            with open(error_file, 'w') as f:
                json.dump(safe_payload, f, indent=2)
            logging.error(f"Error data saved to {error_file} for debugging.")
            
            raise ValueError(f"Tool server communication failed: {e}")
    
    async def interact_with_tool_server(
        self,
        traj_id: str,
        action: str,
        do_action: bool,
        extra_fields: Any = None,
        is_last_step: bool = False,
    ) -> list[str]:
        batch_data = {
            "trajectory_ids": [traj_id],
            "actions": [action],
            "finish": [not do_action],
            "is_last_step": [is_last_step],
        }
        if extra_fields is not None:
            batch_data['extra_fields'] = [extra_fields]
        
        response = await self.send_batch_requests_async(batch_data)
        obs = response['observations'][0]
        done = int(response['dones'][0])
        is_valid_action = int(response['valids'][0])
        processing_time_ms = float(response.get('processing_time_ms', 0.0))
        success = response.get('success', True)
        
        
        # postprocess next_obs. For now we support two types of observations:
        # 1. string observations, which will be the most common case
        # 2. dict observations, e.g. {"obs": "some observation", "reward": 1.0}
        #     for now we only support "obs" and "reward" keys, but can be extended later
        tool_interact_info = {}
        if isinstance(obs, str):
            # can be invalid
            obs_text = obs
            reward = None
            tool_interact_info['obs'] = obs
            tool_interact_info['reward'] = None
        elif isinstance(obs, dict):
            assert "obs" in obs, f"Observation dict must contain 'obs' key, but got {obs.keys()}"
            obs_text = obs.get('obs', '')
            reward = obs.get('reward', None)
            assert isinstance(obs_text, str), f"Expected 'obs' to be a string, but got {type(obs)}"
            assert reward is None or isinstance(reward, (int, float)), f"Expected 'reward' to be None, int, or float, but got {type(reward)}"
            # store tool interaction info if exists
            tool_interact_info = {k: v for k, v in obs.items()} # image or other info
        else:
            raise ValueError(f"Invalid observation type: {type(obs)}. Expected str or dict.")
        
        tool_interact_info['obs'] = obs_text[:MAX_OBS_LENGTH]
        tool_interact_info['reward'] = reward
        tool_interact_info['trajectory_id'] = traj_id
        tool_interact_info['action'] = action
        tool_interact_info['is_last_step'] = is_last_step
        tool_interact_info['done'] = done
        tool_interact_info['valid_action'] = is_valid_action
        tool_interact_info['finish'] = not do_action
        tool_interact_info['invalid_reason'] = tool_interact_info.get('invalid_reason', None)
        tool_interact_info['processing_time_ms'] = processing_time_ms
        tool_interact_info['success'] = success
        
        for key in response.keys():
            if key not in ['observations', 'dones', 'valids', 'processing_time_ms', 'success'] and isinstance(response[key], float):
                tool_interact_info[key] = response[key]
        return tool_interact_info
