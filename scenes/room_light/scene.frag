#version 330 core
// Room light: an overlay scene (scene.toml: overlay = true). Colour is premultiplied by alpha, and
// alpha is 0 away from the light, so in AR the real room shows there; on an opaque display the
// same pixels are black.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec3 u_head_pos;
uniform vec3 u_rest_forward;
uniform vec3 u_rest_up;

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    float breath = clamp(u_breath, 0.0, 1.0);
    vec3 right = normalize(cross(u_rest_forward, u_rest_up));

    // A slow drift of a few centimetres; the light stays where the body rests, never on the face.
    vec3 drift = right * 0.04 * sin(u_time * 0.05) + u_rest_up * 0.03 * sin(u_time * 0.037 + 1.1);
    vec3 center = u_head_pos + u_rest_forward * 1.8 - u_rest_up * 0.25 + drift;
    float radius = mix(0.12, 0.22, breath);

    float s = max(dot(center - u_eye_pos, d), 0.0);
    float h = length(u_eye_pos + d * s - center) / radius;
    float body = exp(-2.5 * h * h);
    float halo = 0.35 * exp(-0.45 * h * h) * mix(0.6, 1.0, breath);
    float glow = clamp(body + halo, 0.0, 1.0);

    vec3 cool = vec3(0.74, 0.84, 0.93);
    vec3 warm = vec3(1.0, 0.95, 0.88);
    vec3 tint = mix(cool, warm, body) * mix(1.0, 0.9, u_calm);
    float alpha = glow * clamp(u_fade, 0.0, 1.0);
    frag_color = vec4(tint * alpha, alpha);
}
