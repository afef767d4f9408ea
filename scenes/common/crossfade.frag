#version 330 core
// Mixes the outgoing scene into the incoming one; u_crossfade = 1 shows only u_incoming.
in vec2 v_ndc;
out vec4 frag_color;

uniform sampler2D u_outgoing;
uniform sampler2D u_incoming;
uniform float u_crossfade;

void main() {
    vec2 uv = v_ndc * 0.5 + 0.5;
    frag_color = mix(texture(u_outgoing, uv), texture(u_incoming, uv), u_crossfade);
}
