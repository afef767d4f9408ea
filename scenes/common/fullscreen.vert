#version 330 core
// One triangle that covers the screen; v_ndc is the pixel's position in normalized device coordinates.
out vec2 v_ndc;

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_ndc = corner * 2.0 - 1.0;
    gl_Position = vec4(v_ndc, 0.0, 1.0);
}
